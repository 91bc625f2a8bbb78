/**
 * The one SSM command runner behind observe, prepare and deliver: sends a document to up
 * to 50 nodes per SendCommand, polls ListCommandInvocations (with Details) until every
 * invocation is terminal or the deadline passes, and returns one result per node.
 */
import {
  type CommandInvocation,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { chunk, mapWithLimit, sleep } from './concurrency.ts';

/**
 * SendCommand takes at most 50 InstanceIds per call.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 */
export const MAX_INSTANCES_PER_COMMAND = 50;
/**
 * ListCommandInvocations returns at most 50 invocations per page, and with Details each
 * plugin's Output holds only the first 2,500 characters; GetCommandInvocation returns
 * up to 24,000 characters of standard output.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommandInvocations.html
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CommandPlugin.html
 */
const LIST_PAGE_SIZE = 50;

export type InvocationResult =
  | { readonly kind: 'output'; readonly succeeded: boolean; readonly output: string }
  | { readonly kind: 'unreachable'; readonly detail: string }
  | { readonly kind: 'failed'; readonly detail: string };

export interface CommandRequest {
  readonly documentName: string;
  readonly instanceIds: readonly string[];
  /** Parameters for one batch; a push gives each batch its own sealed deliveries. */
  readonly parametersFor: (batch: readonly string[]) => Record<string, string[]>;
  readonly comment: string;
  /** Epoch ms after which still-running invocations are given up on. */
  readonly deadlineAt: number;
}

export interface CommandRunnerOptions {
  readonly pollIntervalMs: number;
  readonly maxParallelCommands: number;
  readonly now?: () => number;
}

const UNDELIVERED = new Set([
  'Undeliverable',
  'DeliveryTimedOut',
  'Delivery Timed Out',
  'Terminated',
  'InvalidPlatform',
]);
/** The SSM agent's text for a step whose platform precondition does not match. */
const SKIPPED = /^Step execution skipped due to/;
const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);

export class CommandRunner {
  readonly #ssm: SSMClient;
  readonly #options: CommandRunnerOptions;
  readonly #now: () => number;

  constructor(ssm: SSMClient, options: CommandRunnerOptions) {
    this.#ssm = ssm;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Runs a document on every node; never throws for one node's trouble. */
  async run(request: CommandRequest): Promise<Map<string, InvocationResult>> {
    const batches = chunk(request.instanceIds, MAX_INSTANCES_PER_COMMAND);
    const results = new Map<string, InvocationResult>();
    await mapWithLimit(batches, this.#options.maxParallelCommands, async (batch) => {
      for (const [id, result] of await this.#runBatch(request, batch)) results.set(id, result);
    });
    return results;
  }

  async #runBatch(request: CommandRequest, batch: readonly string[]): Promise<Map<string, InvocationResult>> {
    const results = new Map<string, InvocationResult>();
    let commandId: string | undefined;
    try {
      const sent = await this.#ssm.send(
        new SendCommandCommand({
          DocumentName: request.documentName,
          InstanceIds: [...batch],
          Parameters: request.parametersFor(batch),
          Comment: request.comment.slice(0, 100),
          // Delivery timeout: a node that cannot take the command soon is reported, not waited on.
          TimeoutSeconds: 60,
        }),
      );
      commandId = sent.Command?.CommandId;
    } catch (error) {
      const detail = `SendCommand failed: ${errorName(error)}`;
      for (const id of batch) results.set(id, { kind: 'failed', detail });
      return results;
    }
    if (!commandId) {
      for (const id of batch)
        results.set(id, { kind: 'failed', detail: 'SendCommand returned no command id' });
      return results;
    }

    // Poll statuses only (small pages); fetch outputs once, when the batch is done.
    const open = new Set(batch);
    while (open.size > 0 && this.#now() < request.deadlineAt) {
      await sleep(this.#options.pollIntervalMs);
      try {
        for (const invocation of await this.#listInvocations(commandId, false)) {
          if (invocation.InstanceId && isTerminal(invocation)) open.delete(invocation.InstanceId);
        }
      } catch {
        // The SDK already retried; a failed poll is simply repeated on the next tick.
      }
    }
    let invocations: CommandInvocation[] = [];
    try {
      invocations = await this.#listInvocations(commandId, true);
    } catch (error) {
      const detail = `reading the command results failed: ${errorName(error)}`;
      for (const id of batch) results.set(id, { kind: 'failed', detail });
      return results;
    }
    for (const invocation of invocations) {
      const id = invocation.InstanceId;
      if (!id || !batch.includes(id) || !isTerminal(invocation)) continue;
      results.set(id, await this.#resultOf(commandId, invocation));
    }
    for (const id of batch) {
      if (!results.has(id)) {
        results.set(id, {
          kind: 'failed',
          detail: 'the command had not finished on the host when the run had to stop',
        });
      }
    }
    return results;
  }

  async #listInvocations(commandId: string, details: boolean): Promise<CommandInvocation[]> {
    const all: CommandInvocation[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#ssm.send(
        new ListCommandInvocationsCommand({
          CommandId: commandId,
          Details: details,
          MaxResults: LIST_PAGE_SIZE,
          NextToken: nextToken,
        }),
      );
      all.push(...(page.CommandInvocations ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return all;
  }

  async #resultOf(commandId: string, invocation: CommandInvocation): Promise<InvocationResult> {
    const details = invocation.StatusDetails ?? invocation.Status ?? 'unknown';
    if (UNDELIVERED.has(details)) return { kind: 'unreachable', detail: details };
    if (invocation.Status === 'Cancelled') return { kind: 'failed', detail: 'the command was cancelled' };
    if (invocation.Status === 'TimedOut' && details !== 'ExecutionTimedOut') {
      return { kind: 'unreachable', detail: details };
    }
    // One step per platform: the other platform's step reports Success with a skip message.
    const ran = (invocation.CommandPlugins ?? []).filter((p) => !SKIPPED.test(p.Output ?? ''));
    let output = ran.map((p) => p.Output ?? '').join('\n');
    const pluginName = ran.length === 1 ? ran[0]?.Name : undefined;
    if (!/^end$/m.test(output) && invocation.InstanceId && pluginName) {
      // Details are cut at 2,500 characters; the full text is one GetCommandInvocation away.
      output = await this.#fullOutput(commandId, invocation.InstanceId, pluginName, output);
    }
    return { kind: 'output', succeeded: invocation.Status === 'Success', output };
  }

  async #fullOutput(
    commandId: string,
    instanceId: string,
    pluginName: string,
    fallback: string,
  ): Promise<string> {
    try {
      const full = await this.#ssm.send(
        new GetCommandInvocationCommand({
          CommandId: commandId,
          InstanceId: instanceId,
          PluginName: pluginName,
        }),
      );
      return full.StandardOutputContent ?? fallback;
    } catch {
      return fallback;
    }
  }
}

function isTerminal(invocation: CommandInvocation): boolean {
  return TERMINAL.has(invocation.Status ?? '') || UNDELIVERED.has(invocation.StatusDetails ?? '');
}

export function errorName(error: unknown): string {
  if (error instanceof Error)
    return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
  return String(error);
}
