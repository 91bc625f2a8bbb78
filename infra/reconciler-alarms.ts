/**
 * Operator alerts: a function error, a failed run parked in a dead-letter queue, a run that
 * reported it could not do its job (`ok: false`), components only a person can fix, and no
 * successful run for several schedule periods. Each alarm notifies, on alarm and on recovery,
 * a topic the stack creates for an e-mail address and/or an existing SNS topic; its name
 * carries the environment and its description points at its runbook section in README.md.
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
import { alarmName, metricsNamespace, SERVICE_NAME } from '../shared/names.ts';

const PERIOD = Duration.minutes(5);

/** The README section of an alarm: heading "### Alarm <id>" has this GitHub anchor. */
export function runbookAnchor(alarmId: string): string {
  return `alarm-${alarmId.toLowerCase()}`;
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
}

export class ReconcilerAlarms extends Construct {
  /** The stack's own topic, when an e-mail address is configured. */
  readonly topic?: Topic;
  readonly topics: ITopic[] = [];
  readonly alarms: Alarm[] = [];
  readonly #environmentName: string;

  constructor(scope: Construct, id: string, props: ReconcilerAlarmsProps) {
    super(scope, id);
    this.#environmentName = props.environmentName;
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

    this.alarm('FunctionErrors', props.function.metricErrors({ period: PERIOD, statistic: 'Sum' }), {
      description: 'A reconcile run crashed or timed out. Check the function log group for the error.',
    });
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      this.alarm(
        `${name}Waiting`,
        queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: 'Maximum' }),
        {
          description: `A failed run is parked in the ${name} dead-letter queue. Read the message, fix the cause, then purge it.`,
        },
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
    this.alarm('RunNotOk', runMetric('RunNotOk', PERIOD, 'Maximum'), {
      description:
        'A run reported ok:false (see its "errors"): it could not do its job, e.g. the secret is unreadable.',
    });
    this.alarm('ComponentsNeedAttention', runMetric('NeedingAttention', PERIOD, 'Maximum'), {
      description:
        'A run found components only a person can fix: a stuck registration file, a config without a token ' +
        '(redeploy the component), an unreadable token, or a failed delivery. The run report gives each reason.',
    });

    // "No successful run": RunOk summed per schedule period, every period of the window empty.
    // Missing data is breaching: a function that never runs (schedule disabled, crash before
    // the report) publishes nothing at all.
    const interval = props.scheduleIntervalMinutes;
    const perSchedulePeriod = interval !== undefined && props.noSuccessfulRunMinutes % interval === 0;
    const period = Duration.minutes(perSchedulePeriod ? interval : props.noSuccessfulRunMinutes);
    const periods = perSchedulePeriod ? props.noSuccessfulRunMinutes / interval : 1;
    this.alarm('NoSuccessfulRun', runMetric('RunOk', period, 'Sum'), {
      description: `No run ended with ok:true for ${props.noSuccessfulRunMinutes} minutes: the schedule, the function or its permissions are broken.`,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.BREACHING,
      evaluationPeriods: periods,
    });
  }

  private alarm(
    id: string,
    metric: IMetric,
    options: {
      readonly description: string;
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
      alarmDescription: `${options.description} Runbook: README.md#${runbookAnchor(id)} (environment ${this.#environmentName}).`,
    });
    for (const topic of this.topics) {
      alarm.addAlarmAction(new SnsAction(topic));
      alarm.addOkAction(new SnsAction(topic));
    }
    this.alarms.push(alarm);
  }
}
