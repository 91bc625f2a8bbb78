/**
 * Reconcile hosts soon after they start: EC2 "running" notifications go from an EventBridge
 * rule into an SQS queue (not straight to the function), and the function drains the queue
 * in batches, so a burst of hundreds of starts becomes one run.
 */
import { Duration } from 'aws-cdk-lib';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { INSTANCE_START_BATCHING_WINDOW_SECONDS } from '../shared/limits.ts';

/** How long Lambda gathers messages before invoking: see the constant's comment. */
export const BATCHING_WINDOW = Duration.seconds(INSTANCE_START_BATCHING_WINDOW_SECONDS);
/**
 * Records per run. With a batching window a standard queue allows up to 10,000; 1,000
 * matches the handler's cap for named hosts and stays far below Lambda's 6 MB payload
 * (an EC2 notification record is about 1.5 KB).
 */
export const BATCH_SIZE = 1000;
/**
 * Deliveries before a message moves to the dead-letter queue. With a reserved concurrency of
 * 1, Lambda's pollers can be throttled and each throttled batch counts as a receive; AWS
 * recommends a maxReceiveCount of at least 5 on the source queue of a Lambda event source
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html, "Configuring a
 * dead-letter queue" / "Configuring maximum concurrency").
 */
export const MAX_RECEIVE_COUNT = 5;

export interface InstanceStartTriggerProps {
  readonly function: IFunction;
  readonly functionTimeout: Duration;
}

export class InstanceStartTrigger extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly rule: Rule;

  constructor(scope: Construct, id: string, props: InstanceStartTriggerProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      // SSE-SQS, not KMS: EventBridge can send to it without a customer managed key policy.
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: visibilityTimeoutFor(props.functionTimeout),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: MAX_RECEIVE_COUNT },
    });
    // Every instance start in the account and region: the notification carries no tags, and
    // the handler reconciles only nodes that have the fleet tag (SSM filter by tag).
    this.rule = new Rule(this, 'Running', {
      description: 'EC2 instances entering "running": queue them for a batched reconcile.',
      eventPattern: {
        source: ['aws.ec2'],
        detailType: ['EC2 Instance State-change Notification'],
        detail: { state: ['running'] },
      },
      targets: [new SqsQueue(this.queue)],
    });
    props.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: BATCH_SIZE,
        maxBatchingWindow: BATCHING_WINDOW,
        // The handler answers `batchItemFailures` naming only the records it could not handle,
        // so the rest of a batch is not received again.
        reportBatchItemFailures: true,
      }),
    );
  }
}

/**
 * AWS recommends a source queue visibility timeout of at least six times the function
 * timeout, so Lambda can retry a batch throttled by the reserved concurrency of 1
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); the batching
 * window is added because messages are already in flight while Lambda gathers the batch.
 */
export function visibilityTimeoutFor(functionTimeout: Duration): Duration {
  return Duration.seconds(6 * functionTimeout.toSeconds() + BATCHING_WINDOW.toSeconds());
}
