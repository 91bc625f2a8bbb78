/**
 * Operator alerts: a function error, a failed run parked in a dead-letter queue, a run that
 * reported it could not do its job (`ok: false`), components only a person can fix, and no
 * successful run for several schedule periods. Every stack has them (the dashboard shows their
 * state); they notify, on alarm and on recovery, a topic the stack creates for an e-mail
 * address and/or an existing SNS topic, where one is set. Each name carries the environment,
 * and each description says what fired and ends in a runbook link a person can open
 * (alarm-runbook.ts).
 */
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type AlarmId, alarmName, metricsNamespace, SERVICE_NAME } from '../shared/names.ts';
import { ALARM_RUNBOOK, runbookAnchor } from './alarm-runbook.ts';

export { runbookAnchor } from './alarm-runbook.ts';

const PERIOD = Duration.minutes(5);

/**
 * Where an alarm's description sends a person: `base#alarm-<id>` for a page with the runbook's
 * headings (docs/operating.md on a Git host), the dashboard as it is (its runbook panel lists every
 * alarm), or the docs path when there is neither.
 */
export type RunbookLink =
  | { readonly kind: 'page'; readonly url: string }
  | { readonly kind: 'dashboard'; readonly url: string }
  | { readonly kind: 'docs' };

export function runbookLinkFor(link: RunbookLink, alarmId: string): string {
  if (link.kind === 'page') return `${link.url}#${runbookAnchor(alarmId)}`;
  if (link.kind === 'dashboard') return link.url;
  return `docs/operating.md#${runbookAnchor(alarmId)}`;
}

export interface ReconcilerAlarmsProps {
  readonly environmentName: string;
  /** Subscribed to a topic the stack creates. */
  readonly email?: string;
  /** An existing topic (e.g. the team's pager) notified as well. */
  readonly topicArn?: string;
  readonly function: IFunction;
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /** Alarm when no run ended `ok: true` for this many minutes. */
  readonly noSuccessfulRunMinutes: number;
  /** Minutes between scheduled runs (rate schedules); undefined for cron schedules. */
  readonly scheduleIntervalMinutes?: number;
  /** Where each description's runbook link points. */
  readonly runbook: RunbookLink;
}

export class ReconcilerAlarms extends Construct {
  /** The stack's own topic, when an e-mail address is configured. */
  readonly topic?: Topic;
  readonly topics: ITopic[] = [];
  readonly alarms: Alarm[] = [];
  readonly #environmentName: string;
  readonly #runbook: RunbookLink;

  constructor(scope: Construct, id: string, props: ReconcilerAlarmsProps) {
    super(scope, id);
    this.#environmentName = props.environmentName;
    this.#runbook = props.runbook;
    if (props.email) {
      // No KMS encryption: notifications carry only alarm names and metric values, and
      // CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.
      this.topic = new Topic(this, 'Topic', {
        displayName: `${SERVICE_NAME} ${props.environmentName} alerts`,
        enforceSSL: true,
      });
      this.topic.addSubscription(new EmailSubscription(props.email));
      this.topics.push(this.topic);
    }
    if (props.topicArn) this.topics.push(Topic.fromTopicArn(this, 'ExistingTopic', props.topicArn));

    this.alarm('FunctionErrors', props.function.metricErrors({ period: PERIOD, statistic: 'Sum' }), {});
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(
        `${name}Waiting` as AlarmId,
        queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
        {},
      );
    }
    // The function publishes these per run (embedded metric format, see lambda/run-metrics.ts).
    const runMetric = (metricName: string, period: Duration, statistic: string) =>
      new Metric({
        namespace: metricsNamespace(props.environmentName),
        metricName,
        dimensionsMap: { service: SERVICE_NAME },
        period,
        statistic,
      });
    this.alarm('RunNotOk', runMetric('RunNotOk', PERIOD, 'Maximum'), {});
    this.alarm('ComponentsNeedAttention', runMetric('NeedingAttention', PERIOD, 'Maximum'), {});

    // "No successful run": RunOk summed per schedule period, every period of the window empty.
    // Missing data is breaching: a function that never runs (schedule disabled, crash before
    // the report) publishes nothing at all.
    const interval = props.scheduleIntervalMinutes;
    const perSchedulePeriod = interval !== undefined && props.noSuccessfulRunMinutes % interval === 0;
    const period = Duration.minutes(perSchedulePeriod ? interval : props.noSuccessfulRunMinutes);
    const periods = perSchedulePeriod ? props.noSuccessfulRunMinutes / interval : 1;
    this.alarm('NoSuccessfulRun', runMetric('RunOk', period, 'Sum'), {
      window: `${props.noSuccessfulRunMinutes} minutes`,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.BREACHING,
      evaluationPeriods: periods,
    });
  }

  private alarm(
    id: AlarmId,
    metric: IMetric,
    options: {
      /** The alarm window, where the description should name it. */
      readonly window?: string;
      readonly comparisonOperator?: ComparisonOperator;
      readonly treatMissingData?: TreatMissingData;
      readonly evaluationPeriods?: number;
    },
  ): void {
    const evaluationPeriods = options.evaluationPeriods ?? 1;
    const alarm = new Alarm(this, id, {
      alarmName: alarmName(this.#environmentName, id),
      metric,
      threshold: 1,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      comparisonOperator: options.comparisonOperator ?? ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: options.treatMissingData ?? TreatMissingData.NOT_BREACHING,
      alarmDescription:
        `${this.#environmentName}: ${ALARM_RUNBOOK[id].means}${options.window ? ` (window: ${options.window})` : ''} ` +
        `Runbook: ${runbookLinkFor(this.#runbook, id)}`,
    });
    for (const topic of this.topics) {
      alarm.addAlarmAction(new SnsAction(topic));
      alarm.addOkAction(new SnsAction(topic));
    }
    this.alarms.push(alarm);
  }
}
