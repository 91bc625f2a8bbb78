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
 * Concurrent runs the instance-start queue may invoke (ScalingConfig.MaximumConcurrency, "Minimum
 * value of 2. Maximum value of 1000.", https://docs.aws.amazon.com/lambda/latest/dg/API_ScalingConfig.html).
 * The minimum: a burst of starts is already one run per batch (1,000 records), and each run paces
 * its SSM calls under account-wide rate limits that every concurrent run shares, so more start runs
 * at once would only divide the same API budget. Two lets a new burst start while a run still
 * waits on booting agents. The cap is the event source's own, so it keeps the queue from using the
 * rest of the account's concurrency quota without the reservation that fails low-quota accounts
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html, "Configuring maximum
 * concurrency for Amazon SQS event sources"); an environment that sets `reservedConcurrency`
 * below it can have start batches throttled back to the queue (see the visibility timeout).
 */
export const MAX_CONCURRENCY = 2;
/**
 * Receives before a message moves to the dead-letter queue. Without a reserved concurrency a batch
 * is no longer throttled by the function's own cap, so a receive now means a run took the record and
 * did not handle it (named in `batchItemFailures`, or the run failed or timed out as a whole), or the
 * account's unreserved concurrency was exhausted by other functions (a low-quota account of 10 runs
 * out quickly). Five such receives, a visibility timeout apart, are hours of trying: past them the
 * message is dead-lettered and alarmed rather than retried forever (the schedule reconciles the host
 * anyway). AWS recommends at least 5 on the source queue of a Lambda event source
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html, "Configuring a
 * dead-letter queue").
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
        maxConcurrency: MAX_CONCURRENCY,
      }),
    );
  }
}

/**
 * "Set the source queue's visibility timeout to at least six times the configuration timeout on
 * your function. The extra time allows Lambda to retry if your function is throttled while
 * processing a previous batch." (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
 * The function no longer throttles itself (no reserved concurrency), and the maximum concurrency
 * keeps the pollers from over-reading; what the margin still protects against: a run that is still
 * working on a batch when its messages would turn visible again (a 15-minute run must never see its
 * own records handed to a second run), and the account's concurrency being used up by other
 * functions, which throttles an invocation Lambda has already received the batch for. The batching
 * window is added because messages are already in flight while Lambda gathers the batch.
 */
export function visibilityTimeoutFor(functionTimeout: Duration): Duration {
  return Duration.seconds(6 * functionTimeout.toSeconds() + BATCHING_WINDOW.toSeconds());
}
