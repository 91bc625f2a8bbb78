/**
 * Runs one SSM document on many hosts: up to 50 per SendCommand, every command followed
 * by the run's one CommandTracker, one result per host, never an exception for one
 * host's trouble.
 */
import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { MAX_INSTANCES_PER_COMMAND } from '../../shared/limits.ts';
import { type CommandComment, formatComment } from '../command-comment.ts';
import { type AwsCaller, DeadlineError, errorName } from './aws-call.ts';
import type { CommandTracker } from './command-tracker.ts';
import type { InvocationResult } from './invocation-result.ts';

export interface DocumentRun {
  readonly documentName: string;
  /** The document version the stack deployed; never whatever `$DEFAULT` holds now. */
  readonly documentVersion: string;
  /**
   * SHA-256 (hex) of the content the stack deployed under that name: SSM refuses to run a document
   * whose content hashes otherwise, so a document deleted and re-created with other content never runs.
   */
  readonly documentHash: string;
  readonly instanceIds: readonly string[];
  /** Parameters for one batch; a push gives each batch its own sealed deliveries. */
  readonly parametersFor: (batch: readonly string[]) => Record<string, string[]>;
  /** Which run sent it, over what, for which step: kept in SSM's command history as the Comment. */
  readonly comment: CommandComment;
  /** How long a healthy host normally takes to run the document (a push waits on the host). */
  readonly expectedSeconds: number;
  /** Longest the document runs on a host once started (its steps' timeouts), in seconds. */
  readonly executionSeconds: number;
  /** Epoch ms after which unfinished invocations are given up on and cancelled. */
  readonly giveUpAt: number;
  /** Said of the hosts given up on at giveUpAt. */
  readonly giveUpReason: string;
}

export interface CommandRunnerOptions {
  readonly ssm: SSMClient;
  readonly caller: AwsCaller;
  readonly tracker: CommandTracker;
  /** How long an invocation may wait for its agent to start it before the run gives up on the host. */
  readonly pickupSeconds: number;
  readonly now?: () => number;
}

/** Where a document run stands after each of its commands settles: a long run's progress. */
export type OnBatchDone = (progress: {
  readonly batchesDone: number;
  readonly batches: number;
  readonly nodesDone: number;
  readonly nodes: number;
}) => void;

/**
 * SendCommand's delivery timeout ("Valid Range: Minimum value of 30"): the agent must start
 * the command within it or the invocation ends DeliveryTimedOut. Kept at the minimum, since
 * the run gives up on unstarted invocations after `pickupSeconds` anyway.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 */
const DELIVERY_TIMEOUT_SECONDS = 30;

export class CommandRunner {
  readonly #o: CommandRunnerOptions;
  readonly #now: () => number;

  constructor(options: CommandRunnerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  async run(run: DocumentRun, onBatchDone?: OnBatchDone): Promise<Map<string, InvocationResult>> {
    const results = new Map<string, InvocationResult>();
    const batches: string[][] = [];
    for (let i = 0; i < run.instanceIds.length; i += MAX_INSTANCES_PER_COMMAND) {
      batches.push(run.instanceIds.slice(i, i + MAX_INSTANCES_PER_COMMAND));
    }
    let done = 0;
    const settle = (batchResults: Map<string, InvocationResult>) => {
      for (const [id, result] of batchResults) results.set(id, result);
      onBatchDone?.({
        batchesDone: ++done,
        batches: batches.length,
        nodesDone: results.size,
        nodes: run.instanceIds.length,
      });
    };
    // Sends go one after another (the caller paces them); each command is then followed
    // by the tracker while later batches are still being sent.
    const following: Promise<void>[] = [];
    for (const batch of batches) {
      following.push(...(await this.#send(run, batch)).map((p) => p.then(settle)));
    }
    await Promise.all(following);
    return results;
  }

  /**
   * Sends one batch. SendCommand fails whole with InvalidInstanceId when any one id is
   * stopped, terminated or no longer managed, and does not say which: halve the batch
   * until the culprits stand alone, so one bad host never fails the others.
   */
  async #send(run: DocumentRun, batch: readonly string[]): Promise<Promise<Map<string, InvocationResult>>[]> {
    const all = (result: InvocationResult) => [Promise.resolve(new Map(batch.map((id) => [id, result])))];
    let commandId: string | undefined;
    try {
      const sentAt = this.#now();
      const sent = await this.#o.caller.call('SendCommand', (abortSignal) =>
        this.#o.ssm.send(
          new SendCommandCommand({
            DocumentName: run.documentName,
            DocumentVersion: run.documentVersion,
            // "DocumentHash: The Sha256 or Sha1 hash created by the system when the document was
            // created" (Sha1 is deprecated).
            // https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
            DocumentHash: run.documentHash,
            DocumentHashType: 'Sha256',
            InstanceIds: [...batch],
            Parameters: run.parametersFor(batch),
            Comment: formatComment(run.comment),
            TimeoutSeconds: DELIVERY_TIMEOUT_SECONDS,
            // Without these SSM stops sending after the first error (MaxErrors defaults to 0).
            MaxConcurrency: '100%',
            MaxErrors: '100%',
          }),
          { abortSignal },
        ),
      );
      commandId = sent.Command?.CommandId;
      if (!commandId) return all({ kind: 'failed', detail: 'SendCommand returned no command id' });
      // Not done by then: the hosts still Pending never started it. Checked once per command, and
      // only for commands not yet complete, so a fleet of healthy hosts costs no extra read.
      const pickupBy = sentAt + (this.#o.pickupSeconds + run.expectedSeconds) * 1000;
      return [
        this.#o.tracker.track({
          commandId,
          documentName: run.documentName,
          instanceIds: batch,
          sentAt,
          pickupBy: Math.min(pickupBy, run.giveUpAt),
          giveUpAt: Math.min(pickupBy + run.executionSeconds * 1000, run.giveUpAt),
          giveUpReason: run.giveUpReason,
        }),
      ];
    } catch (error) {
      if (error instanceof DeadlineError) return all({ kind: 'failed', detail: run.giveUpReason });
      if (error instanceof Error && error.name === 'InvalidInstanceId') {
        if (batch.length === 1) {
          return all({
            kind: 'unreachable',
            detail:
              'SSM refused to send to this node (InvalidInstanceId): it is stopped, terminated, or its agent is not registered',
          });
        }
        const half = Math.ceil(batch.length / 2);
        return [
          ...(await this.#send(run, batch.slice(0, half))),
          ...(await this.#send(run, batch.slice(half))),
        ];
      }
      return all({ kind: 'failed', detail: `SendCommand failed: ${errorName(error)}` });
    }
  }
}
