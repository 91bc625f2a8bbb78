/**
 * Builds the app from the cdk.json context: one stack per selected environment
 * (`-c env=NAME`, or every environment), checked by cdk-nag's AWS Solutions pack.
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stackName } from '../shared/names.ts';
import { PROJECT_ROOT } from './reconciler-function.ts';
import { ReconcilerStack } from './reconciler-stack.ts';
import { selectEnvironments } from './settings.ts';

export function addReconcilerStacks(app: App): ReconcilerStack[] {
  const environments = selectEnvironments(
    { environments: app.node.tryGetContext('environments'), env: app.node.tryGetContext('env') },
    { projectRoot: PROJECT_ROOT },
  );
  const stacks = environments.map(
    (settings) =>
      new ReconcilerStack(app, stackName(settings.name), { settings, stackName: stackName(settings.name) }),
  );
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stacks;
}
