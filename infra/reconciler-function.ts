/**
 * The reconciler Lambda: lambda/handler.ts bundled by the local esbuild, its own log group
 * and role, and a queue that keeps every failed asynchronous run. Runs may overlap (a
 * schedule tick, an instance-start batch, an operator's run): each host-side step is
 * idempotent and serialized on the host, so no reserved concurrency is needed to keep them apart.
 */
import { join } from 'node:path';
import { Duration, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { type ICommandHooks, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DocumentRole } from '../shared/documents/ssm-documents.ts';
import { BUNDLED_CA_FILE_NAME, functionName, SERVICE_NAME } from '../shared/names.ts';
import { functionEnvironment } from './function-environment.ts';
import { ReconcilerPolicy } from './reconciler-policy.ts';
import type { EnvironmentSettings } from './settings.ts';

export const PROJECT_ROOT = join(import.meta.dirname, '..');
export const HANDLER_ENTRY = join(PROJECT_ROOT, 'lambda', 'handler.ts');

/**
 * Lambda's maximum. A run sends each document to 50 nodes per command, paces its SendCommand
 * calls under the account's rate limits, follows all its commands with one ListCommands
 * poller (lambda/aws/), and waits on the hosts (probe, then push with a heartbeat or two of
 * confirmation), so a fleet of thousands of hosts needs minutes; the handler derives its
 * own deadline from the remaining time and reports work it could not start.
 */
export const FUNCTION_TIMEOUT = Duration.minutes(15);

/**
 * ESM output (.mjs) so `import.meta.url` keeps working. Bundled CommonJS dependencies may
 * still call `require` for Node built-ins, which ESM lacks; the banner provides one under
 * names no bundled module uses.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __kasmCreateRequire } from 'node:module'; const require = __kasmCreateRequire(import.meta.url);";

export interface ReconcilerFunctionProps {
  readonly settings: EnvironmentSettings;
  readonly documentNames: Readonly<Record<DocumentRole, string>>;
}

export class ReconcilerFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  /** Receives every asynchronous invocation that failed (and the schedule's undeliverable ones). */
  readonly failedRuns: Queue;

  constructor(scope: Construct, id: string, props: ReconcilerFunctionProps) {
    super(scope, id);
    const { settings } = props;

    this.logGroup = new LogGroup(this, 'Logs', {
      retention: settings.logRetentionDays as RetentionDays,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `${SERVICE_NAME} (${settings.name}): runs the reconciler documents on fleet nodes`,
    });
    this.failedRuns = new Queue(this, 'FailedRuns', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failedRuns).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination of failed runs; a further DLQ behind it would only move the same messages.',
    });

    const permissions = new ReconcilerPolicy(this, 'Permissions', {
      role: this.role,
      logGroup: this.logGroup,
      fleetTag: settings.fleetTag,
      documentNames: props.documentNames,
      registrationSecret: settings.registrationSecret,
    });

    const caFile = settings.kasmApi?.caFile;
    this.function = new NodejsFunction(this, 'Function', {
      functionName: functionName(settings.name),
      description: `Reconciles Kasm component tokens on SSM nodes tagged ${settings.fleetTag.key}=${settings.fleetTag.value} (${settings.name}).`,
      entry: HANDLER_ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      // npm run bench: a 10,000-host run peaks near 270 MB (bench process, tsx included); 512 MB
      // leaves room and buys CPU (Lambda's CPU grows with memory; a run costs about 0.6 ms per host).
      memorySize: 512,
      timeout: FUNCTION_TIMEOUT,
      // No reservation unless the environment asks for one: a reservation must leave the account's
      // minimum unreserved concurrency (100), so on a low-quota account (new accounts often have 10)
      // it fails the whole stack, and overlapping runs are safe without it (a push that finds another
      // run's fresh file waiting reports `pending`).
      // https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
      ...(settings.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: settings.reservedConcurrency }),
      role: this.role,
      logGroup: this.logGroup,
      environment: {
        ...functionEnvironment(settings, props.documentNames),
        // Stack traces point into lambda/*.ts through the bundle's source map.
        NODE_OPTIONS: '--enable-source-maps',
      },
      // A failed run is not retried: the next scheduled run is the retry (the reconcile is
      // level-triggered). A scheduled event that waited an hour behind other runs is stale.
      onFailure: new SqsDestination(this.failedRuns),
      retryAttempts: 0,
      maxEventAge: Duration.hours(1),
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK too: the function runs the SDK versions it was tested with, not
        // whatever the runtime ships, and the bundle loads outside Lambda.
        externalModules: [],
        // Minified for a smaller, faster-loading bundle; the source map (index.mjs.map, with
        // NODE_OPTIONS=--enable-source-maps) keeps stack traces readable.
        minify: true,
        sourceMap: true,
        ...(caFile ? { commandHooks: copyIntoBundle(caFile, BUNDLED_CA_FILE_NAME) } : {}),
      },
    });
    // No run (e.g. the first scheduled one) before its permissions are attached.
    this.function.node.addDependency(permissions.policy);
  }
}

/** Copies one file into the bundle (portable: node instead of cp/copy). */
function copyIntoBundle(source: string, fileName: string): ICommandHooks {
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) => [
      `node -e "require('node:fs').copyFileSync(process.argv[1], process.argv[2])" "${source}" "${join(outputDir, fileName)}"`,
    ],
  };
}
