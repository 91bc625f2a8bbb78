/**
 * One environment of kasm-token-reconciler: the SSM documents, the function, its two
 * triggers (schedule, instance starts), saved log queries and, as the settings say, a
 * dashboard, alarms (with an alarm e-mail or topic) and shareable console test events.
 */
import { Aws, CfnCondition, CfnOutput, Fn, Stack, type StackProps, Tags, Token } from 'aws-cdk-lib';
import { RegionInfo } from 'aws-cdk-lib/region-info';
import type { Construct } from 'constructs';
import { dashboardName, functionName, SERVICE_NAME } from '../shared/names.ts';
import { ConsoleTestEvents } from './console-test-events.ts';
import { InstanceStartTrigger } from './instance-start-trigger.ts';
import { SavedLogQueries } from './log-queries.ts';
import { ReconcilerAlarms, type RunbookLink } from './reconciler-alarms.ts';
import { ReconcilerDashboard } from './reconciler-dashboard.ts';
import { ReconcilerDocuments } from './reconciler-documents.ts';
import { FUNCTION_TIMEOUT, ReconcilerFunction } from './reconciler-function.ts';
import { ScheduleTrigger } from './schedule-trigger.ts';
import { type EnvironmentSettings, scheduleIntervalMinutes } from './settings.ts';

export interface ReconcilerStackProps extends StackProps {
  readonly settings: EnvironmentSettings;
}

export class ReconcilerStack extends Stack {
  readonly settings: EnvironmentSettings;
  readonly documents: ReconcilerDocuments;
  readonly reconciler: ReconcilerFunction;
  readonly scheduleTrigger: ScheduleTrigger;
  readonly instanceStartTrigger: InstanceStartTrigger;
  readonly alarms: ReconcilerAlarms;
  readonly dashboard?: ReconcilerDashboard;
  readonly logQueries: SavedLogQueries;
  readonly testEvents?: ConsoleTestEvents;

  constructor(scope: Construct, id: string, props: ReconcilerStackProps) {
    const { settings, ...stackProps } = props;
    super(scope, id, {
      description: `${SERVICE_NAME} (${settings.name}): delivers Kasm registration tokens to SSM managed nodes whose component tokens expired.`,
      // Without account and region the stack is environment-agnostic: it deploys to the CLI's
      // current account and region, and synth needs no lookups.
      ...(settings.account || settings.region
        ? { env: { account: settings.account, region: settings.region } }
        : {}),
      ...stackProps,
    });
    this.settings = settings;
    Tags.of(this).add('application', SERVICE_NAME);
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
      description: `${SERVICE_NAME} ${settings.name}: full reconcile of every fleet node.`,
    });
    this.instanceStartTrigger = new InstanceStartTrigger(this, 'InstanceStarts', {
      function: this.reconciler.function,
      functionTimeout: FUNCTION_TIMEOUT,
    });
    const deadLetterQueues = {
      FailedRuns: this.reconciler.failedRuns,
      InstanceStarts: this.instanceStartTrigger.deadLetterQueue,
    };
    // Alarms in every stack, so every dashboard shows their state; they notify only where a target is set.
    const interval = scheduleIntervalMinutes(settings.schedule);
    this.alarms = new ReconcilerAlarms(this, 'Alarms', {
      environmentName: settings.name,
      ...(settings.alarmEmail ? { email: settings.alarmEmail } : {}),
      ...(settings.alarmTopicArn ? { topicArn: settings.alarmTopicArn } : {}),
      function: this.reconciler.function,
      deadLetterQueues,
      noSuccessfulRunMinutes: settings.noSuccessfulRunMinutes,
      ...(interval === undefined ? {} : { scheduleIntervalMinutes: interval }),
      runbook: runbookLink(this, settings),
    });
    this.logQueries = new SavedLogQueries(this, 'LogQueries', {
      environmentName: settings.name,
      logGroup: this.reconciler.logGroup,
    });
    if (settings.dashboard) {
      this.dashboard = new ReconcilerDashboard(this, 'Dashboard', {
        environmentName: settings.name,
        function: this.reconciler.function,
        functionTimeout: FUNCTION_TIMEOUT,
        logGroup: this.reconciler.logGroup,
        deadLetterQueues,
        instanceStartQueue: this.instanceStartTrigger.queue,
        alarms: this.alarms.alarms,
      });
    }
    if (settings.consoleTestEvents) {
      this.testEvents = new ConsoleTestEvents(this, 'ConsoleTestEvents', {
        // The literal name (not a reference): the schema name embeds it.
        functionName: functionName(settings.name),
      });
    }

    new CfnOutput(this, 'FunctionName', {
      description: 'The reconciler function (npm run ops -- invoke --env NAME invokes it).',
      value: this.reconciler.function.functionName,
    });
    new CfnOutput(this, 'LogGroupName', {
      description: "The function's log group: run reports and 'needs attention' lines.",
      value: this.reconciler.logGroup.logGroupName,
    });
  }
}

/**
 * The AWS Management Console's domain in each partition: https://docs.aws.amazon.com/general/latest/gr/mgmt-console.html
 * (aws), https://docs.aws.amazon.com/govcloud-us/latest/UserGuide/configure-account.html (aws-us-gov, "open the IAM
 * console at https://console.amazonaws-us-gov.com/iam"), and console.amazonaws.cn for the China regions (aws-cn).
 */
export const CONSOLE_DOMAINS: Readonly<Record<string, string>> = {
  aws: 'console.aws.amazon.com',
  'aws-cn': 'console.amazonaws.cn',
  'aws-us-gov': 'console.amazonaws-us-gov.com',
};

/**
 * The console's domain for the stack: known at synth time when the environment names a region CDK
 * knows; else chosen at deploy time from AWS::Partition (any partition not listed gets the standard one).
 */
function consoleDomain(stack: Stack, region: string | undefined): string {
  const partition = region === undefined ? undefined : RegionInfo.get(region).partition;
  const known = partition === undefined ? undefined : CONSOLE_DOMAINS[partition];
  if (known) return known;
  const inPartition = (id: string, name: string) =>
    new CfnCondition(stack, id, { expression: Fn.conditionEquals(Aws.PARTITION, name) });
  const china = inPartition('InChinaPartition', 'aws-cn');
  const govCloud = inPartition('InGovCloudPartition', 'aws-us-gov');
  return Token.asString(
    Fn.conditionIf(
      china.logicalId,
      CONSOLE_DOMAINS['aws-cn'],
      Fn.conditionIf(govCloud.logicalId, CONSOLE_DOMAINS['aws-us-gov'], CONSOLE_DOMAINS.aws),
    ),
  );
}

/**
 * The runbook an alarm links to: the operator's page (runbookUrl), else the environment's dashboard,
 * whose runbook panel lists every alarm, else the docs path. The console URL is the documented form
 * `https://<console domain>/cloudwatch/home?region=REGION#dashboards:name=NAME`.
 */
function runbookLink(stack: Stack, settings: EnvironmentSettings): RunbookLink {
  if (settings.runbookUrl) return { kind: 'page', url: settings.runbookUrl };
  if (!settings.dashboard) return { kind: 'docs' };
  const region = settings.region ?? Aws.REGION;
  return {
    kind: 'dashboard',
    url: `https://${consoleDomain(stack, settings.region)}/cloudwatch/home?region=${region}#dashboards:name=${dashboardName(settings.name)}`,
  };
}
