/**
 * Operator alerts, by e-mail: a function error, a failed run parked in a dead-letter queue,
 * a run that reported it could not do its job (`ok: false`), or components only a person can fix.
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
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';

import { METRICS_SERVICE, metricsNamespace } from './function-environment.ts';

const PERIOD = Duration.minutes(5);

export interface ReconcilerAlarmsProps {
  readonly environmentName: string;
  readonly email: string;
  readonly function: IFunction;
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
}

export class ReconcilerAlarms extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: ReconcilerAlarmsProps) {
    super(scope, id);
    // No KMS encryption: notifications carry only alarm names and metric values, and
    // CloudWatch cannot publish to a topic encrypted with the AWS managed SNS key.
    this.topic = new Topic(this, 'Topic', {
      displayName: `kasm-token-reconciler ${props.environmentName} alerts`,
      enforceSSL: true,
    });
    this.topic.addSubscription(new EmailSubscription(props.email));

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
    const runMetric = (metricName: string) =>
      new Metric({
        namespace: metricsNamespace(props.environmentName),
        metricName,
        dimensionsMap: { service: METRICS_SERVICE },
        period: PERIOD,
        statistic: 'Maximum',
      });
    this.alarm('RunNotOk', runMetric('RunNotOk'), {
      description:
        'A run reported ok:false (see its "errors"): it could not do its job, e.g. the secret is unreadable.',
    });
    this.alarm('ComponentsNeedAttention', runMetric('NeedingAttention'), {
      description:
        'A run found components only a person can fix: a stuck registration file, a config without a token ' +
        '(redeploy the component), an unreadable token, or a failed delivery. The run report gives each reason.',
    });
  }

  private alarm(id: string, metric: IMetric, options: { readonly description: string }): void {
    const alarm = new Alarm(this, id, {
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: options.description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}
