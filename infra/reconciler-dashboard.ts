/**
 * One CloudWatch dashboard per environment: what each run found (the per-run metrics of
 * lambda/run-metrics.ts), how long runs take against the function timeout, crashes and
 * throttles, failed runs waiting in the dead-letter queues, and a table of the components
 * that need a person (Logs Insights over the "needs attention" log lines).
 *
 * SSM publishes no CloudWatch metric for throttled API calls; the function's SDK clients
 * retry them (lambda/handler.ts), so they show as longer runs, not as errors.
 */
import { Duration } from 'aws-cdk-lib';
import {
  AlarmStatusWidget,
  Color,
  Dashboard,
  GraphWidget,
  type IAlarm,
  LogQueryVisualizationType,
  LogQueryWidget,
  Metric,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { dashboardName, metricsNamespace, SERVICE_NAME } from '../shared/names.ts';
import type { RunMetricName } from '../shared/run-metrics.ts';
import { alarmRunbookMarkdown } from './alarm-runbook.ts';
import { LOG_QUERIES } from './log-queries.ts';

const PERIOD = Duration.minutes(5);

/** The per-run metrics, in the order the outcome graph shows them. */
export const RUN_METRIC_NAMES = [
  'Recovered',
  'Pending',
  'Deferred',
  'Unreachable',
  'UnreachableHosts',
  'NeedingAttention',
  'RunNotOk',
  'RejectedEvents',
] as const satisfies readonly RunMetricName[];

export interface ReconcilerDashboardProps {
  readonly environmentName: string;
  readonly function: IFunction;
  readonly functionTimeout: Duration;
  readonly logGroup: ILogGroup;
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  readonly instanceStartQueue: IQueue;
  readonly alarms: readonly IAlarm[];
}

export class ReconcilerDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ReconcilerDashboardProps) {
    super(scope, id);
    const runMetric = (metricName: string) =>
      new Metric({
        namespace: metricsNamespace(props.environmentName),
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        period: PERIOD,
        statistic: 'Sum',
      });
    const fn = props.function;

    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: dashboardName(props.environmentName),
      defaultInterval: Duration.days(1),
    });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `# ${SERVICE_NAME} (${props.environmentName})\n` +
          'What each run found, how long it took, and what needs a person. ' +
          'What each status means and what to do: docs/operating.md, section "Runbook"; what each alarm means: the panel at the bottom. ' +
          `Latest run from a terminal: \`npm run ops -- last-run --env ${props.environmentName}\`.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Outcomes per run (components, and hosts not reached)',
        left: RUN_METRIC_NAMES.map((name) => runMetric(name)),
        width: 12,
        stacked: false,
      }),
      new GraphWidget({
        title: 'Run duration against the timeout',
        left: [
          fn.metricDuration({ period: PERIOD, statistic: 'Maximum', label: 'longest run' }),
          fn.metricDuration({ period: PERIOD, statistic: 'Average', label: 'average run' }),
        ],
        leftAnnotations: [
          {
            value: props.functionTimeout.toMilliseconds(),
            label: `timeout (${props.functionTimeout.toMinutes()} min)`,
            color: Color.RED,
          },
        ],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Invocations, errors and throttles',
        left: [
          fn.metricInvocations({ period: PERIOD, statistic: 'Sum' }),
          fn.metricErrors({ period: PERIOD, statistic: 'Sum' }),
          fn.metricThrottles({ period: PERIOD, statistic: 'Sum' }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Failed runs waiting in dead-letter queues',
        left: Object.entries(props.deadLetterQueues).map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: 'Maximum',
            label: name,
          }),
        ),
        width: 8,
      }),
      new GraphWidget({
        title: 'Instance starts waiting for a run',
        left: [
          props.instanceStartQueue.metricApproximateNumberOfMessagesVisible({
            period: PERIOD,
            statistic: 'Maximum',
            label: 'queued starts',
          }),
        ],
        right: [
          props.instanceStartQueue.metricApproximateAgeOfOldestMessage({
            period: PERIOD,
            statistic: 'Maximum',
            label: 'oldest (s)',
          }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: LOG_QUERIES.needsAttention.title,
        logGroupNames: [props.logGroup.logGroupName],
        queryString: LOG_QUERIES.needsAttention.query.toString(),
        view: LogQueryVisualizationType.TABLE,
        width: 24,
        height: 8,
      }),
    );
    if (props.alarms.length > 0) {
      this.dashboard.addWidgets(
        new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 3 }),
      );
    }
    // Alarm descriptions link here by default (setting runbookUrl), so the runbook is one click away.
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `## Runbook: when an alarm fires\n\n${alarmRunbookMarkdown('###')}`,
        width: 24,
        height: 12,
      }),
    );
  }
}
