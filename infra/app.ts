/**
 * CDK entry point (cdk.json "app"): `npx cdk synth` builds every environment,
 * `npx cdk deploy -c env=prod` one of them. See docs/deploying.md.
 */
import { App } from 'aws-cdk-lib';
import { addReconcilerStacks } from './reconciler-app.ts';
import { SettingsError } from './settings.ts';

const app = new App();
try {
  addReconcilerStacks(app);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  // A settings problem is the operator's to fix: the message, not a stack trace.
  console.error(error.message);
  process.exit(1);
}
app.synth();
