/**
 * One environment of kasm-token-reconciler: the SSM documents, the function, its two
 * triggers (schedule, instance starts) and, with an alarm e-mail, its alerts.
 */
import { Stack, type StackProps, Tags } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { InstanceStartTrigger } from './instance-start-trigger.ts';
import { ReconcilerAlarms } from './reconciler-alarms.ts';
import { ReconcilerDocuments } from './reconciler-documents.ts';
import { FUNCTION_TIMEOUT, ReconcilerFunction } from './reconciler-function.ts';
import { ScheduleTrigger } from './schedule-trigger.ts';
import type { EnvironmentSettings } from './settings.ts';

export interface ReconcilerStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
}

export function stackName(environmentName: string): string {
  return `KasmTokenReconciler-${environmentName}`;
}

export class ReconcilerStack extends Stack {
  readonly settings: EnvironmentSettings;
  readonly documents: ReconcilerDocuments;
  readonly reconciler: ReconcilerFunction;
  readonly scheduleTrigger: ScheduleTrigger;
  readonly instanceStartTrigger: InstanceStartTrigger;
  readonly alarms?: ReconcilerAlarms;

  constructor(scope: Construct, id: string, props: ReconcilerStackProps) {
    const { settings, ...stackProps } = props;
    super(scope, id, {
      description: `kasm-token-reconciler (${settings.name}): delivers Kasm registration tokens to SSM managed nodes whose component tokens expired.`,
      // Without account and region the stack is environment-agnostic: it deploys to the CLI's
      // current account and region, and synth needs no lookups.
      ...(settings.account || settings.region
        ? { env: { account: settings.account, region: settings.region } }
        : {}),
      ...stackProps,
    });
    this.settings = settings;
    Tags.of(this).add('application', 'kasm-token-reconciler');
    Tags.of(this).add('environment', settings.name);

    this.documents = new ReconcilerDocuments(this, 'Documents', { environmentName: settings.name });
    this.reconciler = new ReconcilerFunction(this, 'Reconciler', {
      settings,
      documentNames: this.documents.names,
    });
    // The function must not run before the documents it names exist.
    this.reconciler.function.node.addDependency(this.documents.probe, this.documents.push);

    this.scheduleTrigger = new ScheduleTrigger(this, 'Schedule', {
      function: this.reconciler.function,
      expression: settings.schedule,
      deadLetterQueue: this.reconciler.failedRuns,
      description: `kasm-token-reconciler ${settings.name}: full reconcile of every fleet node.`,
    });
    this.instanceStartTrigger = new InstanceStartTrigger(this, 'InstanceStarts', {
      function: this.reconciler.function,
      functionTimeout: FUNCTION_TIMEOUT,
    });
    if (settings.alarmEmail) {
      this.alarms = new ReconcilerAlarms(this, 'Alarms', {
        environmentName: settings.name,
        email: settings.alarmEmail,
        function: this.reconciler.function,
        deadLetterQueues: {
          FailedRuns: this.reconciler.failedRuns,
          InstanceStarts: this.instanceStartTrigger.deadLetterQueue,
        },
      });
    }
  }
}
