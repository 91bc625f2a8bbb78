/**
 * Follows every command a run has in flight with one poller: ListCommands reports each
 * command's target and completed counts (up to 50 commands a page), so the run reads
 * full results (ListCommandInvocations with Details) once per finished command instead
 * of polling each command on its own. Polling backs off while nothing finishes.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ListCommands.html
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Command.html
 */
import {
  CancelCommandCommand,
  type Command,
  type CommandFilter,
  type CommandInvocation,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { type AwsCaller, DeadlineError, errorName, isRefusal } from './aws-call.ts';
import { type InvocationResult, isNotStarted, isTerminal, resultOf } from './invocation-result.ts';

export interface TrackerOptions {
  readonly ssm: SSMClient;
  readonly caller: AwsCaller;
  /** First poll and the interval after something finished. */
  readonly pollIntervalMs: number;
  /** Longest interval the backoff reaches while nothing finishes. */
  readonly maxPollIntervalMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly warn?: (message: string, extra?: object) => void;
}

export interface TrackedCommand {
  readonly commandId: string;
  readonly documentName: string;
  readonly instanceIds: readonly string[];
  readonly sentAt: number;
  /** After this, invocations the agent has not started are given up on and cancelled. */
  readonly pickupBy: number;
  /** After this, every unfinished invocation is given up on and cancelled. */
  readonly giveUpAt: number;
  /** Why unfinished invocations were given up at giveUpAt. */
  readonly giveUpReason: string;
}

interface Open {
  readonly command: TrackedCommand;
  readonly results: Map<string, InvocationResult>;
  readonly resolve: (results: Map<string, InvocationResult>) => void;
  pickupChecked: boolean;
  /**
   * Hosts the run gave up on (settled with its own reason) and cancelled. A cancelled invocation
   * may stay Cancelling for a while before it is Cancelled ("Understanding command statuses",
   * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html), and only
   * terminal ones count as completed, so the command's counts must not make the run wait for them.
   */
  readonly givenUp: Set<string>;
  /** Of those, the ones a read has since shown terminal (so ListCommands counts them completed). */
  readonly givenUpEnded: Set<string>;
  /** Reads of a finished command that found invocations missing (eventual consistency). */
  shortReads: number;
}

/** ListCommands: "Maximum value of 50." ListCommandInvocations: "Maximum value of 50." */
const PAGE_SIZE = 50;
/** A finished command whose invocations stay missing this many reads is reported as such. */
const MAX_SHORT_READS = 5;

export class CommandTracker {
  readonly #o: TrackerOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #open = new Map<string, Open>();
  #loop: Promise<void> | undefined;

  constructor(options: TrackerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Resolves with one result per instance id once the command is done or given up on. */
  track(command: TrackedCommand): Promise<Map<string, InvocationResult>> {
    return new Promise((resolve) => {
      this.#open.set(command.commandId, {
        command,
        results: new Map(),
        resolve,
        pickupChecked: false,
        givenUp: new Set(),
        givenUpEnded: new Set(),
        shortReads: 0,
      });
      this.#loop ??= this.#run().finally(() => {
        this.#loop = undefined;
      });
    });
  }

  async #run(): Promise<void> {
    let interval = this.#o.pollIntervalMs;
    while (this.#open.size > 0) {
      await this.#pause(interval);
      const finished = await this.#tick();
      interval = finished
        ? this.#o.pollIntervalMs
        : Math.min(Math.round(interval * 1.5), this.#o.maxPollIntervalMs);
    }
  }

  /** Sleeps `ms`, but never past the earliest moment an open command must be looked at. */
  async #pause(ms: number): Promise<void> {
    const due = Math.min(
      ...[...this.#open.values()].map((o) =>
        o.pickupChecked ? o.command.giveUpAt : Math.min(o.command.pickupBy, o.command.giveUpAt),
      ),
    );
    const wait = Math.max(0, Math.min(ms, due - this.#now()));
    await this.#sleep(wait);
  }

  /** One round: which commands finished, what must be given up. Returns whether any finished. */
  async #tick(): Promise<boolean> {
    const listed = await this.#listOpenCommands();
    let finished = false;
    for (const open of [...this.#open.values()]) {
      const { command } = open;
      const seen = listed.get(command.commandId);
      const now = this.#now();
      let mode: 'complete' | 'give-up' | 'pickup' | undefined;
      if (seen && isComplete(seen, open.givenUp.size - open.givenUpEnded.size)) mode = 'complete';
      else if (now >= command.giveUpAt) mode = 'give-up';
      else if (!open.pickupChecked && now >= command.pickupBy) mode = 'pickup';
      if (!mode) continue;
      if (await this.#collect(open, mode)) finished = true;
    }
    return finished;
  }

  /**
   * Status of the open commands that may be done, by id; commands SSM does not show yet are absent.
   * Only finished commands are listed (ExecutionStage Complete: "command executions that have already
   * completed", API_CommandFilter), since each listed command carries all its parameters (a push's
   * sealed deliveries, about 20 KB) and one still running needs no look. Except for a document with a
   * command that has invocations the run gave up on still Cancelling: those count as done here (see
   * isComplete) but keep SSM from calling the command complete, so that document is listed whole.
   */
  async #listOpenCommands(): Promise<Map<string, Command>> {
    const seen = new Map<string, Command>();
    const opens = [...this.#open.values()];
    const documents = [...new Set(opens.map((o) => o.command.documentName))];
    // Whole seconds, a minute early: "InvokedAfter: Specify a timestamp ... 2021-07-07T00:00:00Z".
    const since = new Date(Math.min(...opens.map((o) => o.command.sentAt)) - 60_000)
      .toISOString()
      .replace(/\.\d+Z$/, 'Z');
    for (const documentName of documents) {
      const ofDocument = opens.filter((o) => o.command.documentName === documentName);
      const wanted = new Set(ofDocument.map((o) => o.command.commandId));
      const cancelling = ofDocument.some((o) => o.givenUp.size > o.givenUpEnded.size);
      const filters: CommandFilter[] = [
        { key: 'InvokedAfter', value: since },
        { key: 'DocumentName', value: documentName },
        ...(cancelling ? [] : [{ key: 'ExecutionStage', value: 'Complete' } as const]),
      ];
      let nextToken: string | undefined;
      try {
        do {
          const page = await this.#o.caller.call('ListCommands', (abortSignal) =>
            this.#o.ssm.send(
              new ListCommandsCommand({
                Filters: filters,
                MaxResults: PAGE_SIZE,
                NextToken: nextToken,
              }),
              { abortSignal },
            ),
          );
          for (const c of page.Commands ?? []) {
            if (c.CommandId && wanted.has(c.CommandId)) {
              seen.set(c.CommandId, c);
              wanted.delete(c.CommandId);
            }
          }
          nextToken = wanted.size > 0 ? page.NextToken : undefined;
        } while (nextToken);
      } catch (error) {
        if (error instanceof DeadlineError) break;
        // A failed poll is repeated next round; giving up is decided by time, not by errors.
        this.#o.warn?.('listing command statuses failed', { error: errorName(error) });
      }
    }
    return seen;
  }

  /**
   * Reads a command's invocations and settles what can be settled. Returns true when the
   * command is done (every instance has a result).
   */
  async #collect(open: Open, mode: 'complete' | 'give-up' | 'pickup'): Promise<boolean> {
    const { command } = open;
    let invocations: CommandInvocation[];
    try {
      invocations = await this.#invocations(command.commandId);
    } catch (error) {
      // A refusal (say, a role without ssm:ListCommandInvocations) would be refused again every
      // round until the give-up time, so the hosts fail now, with the reason, instead.
      if (error instanceof DeadlineError || mode === 'give-up' || isRefusal(error)) {
        const detail =
          error instanceof DeadlineError
            ? command.giveUpReason
            : `reading the command results failed: ${errorName(error)}`;
        for (const id of command.instanceIds)
          if (!open.results.has(id)) open.results.set(id, { kind: 'failed', detail });
        return this.#finish(open, []);
      }
      this.#o.warn?.('reading command results failed', {
        commandId: command.commandId,
        error: errorName(error),
      });
      if (mode === 'pickup') open.pickupChecked = true;
      return false;
    }
    const byId = new Map(invocations.map((i) => [i.InstanceId ?? '', i]));
    for (const id of open.givenUp) {
      const invocation = byId.get(id);
      if (invocation && isTerminal(invocation)) open.givenUpEnded.add(id);
    }
    const abandoned: string[] = [];
    for (const id of command.instanceIds) {
      if (open.results.has(id)) continue;
      const invocation = byId.get(id);
      if (invocation && isTerminal(invocation)) {
        open.results.set(id, await this.#interpret(command.commandId, invocation));
      } else if (mode === 'give-up') {
        open.results.set(id, { kind: 'failed', detail: command.giveUpReason });
        abandoned.push(id);
      } else if (mode === 'pickup' && invocation && isNotStarted(invocation)) {
        const waited = Math.round((command.pickupBy - command.sentAt) / 1000);
        open.results.set(id, {
          kind: 'unreachable',
          detail: `the SSM Agent did not start the command within ${waited} s (status ${invocation.Status})`,
        });
        abandoned.push(id);
      }
    }
    if (mode === 'pickup') open.pickupChecked = true;
    const unsettled = command.instanceIds.filter((id) => !open.results.has(id));
    if (mode === 'complete' && unsettled.some((id) => byId.has(id))) {
      // Still running: the counts included invocations given up on that have turned Cancelled since
      // (see isComplete). Nothing is missing, so this is no short read; look again next round.
      return this.#finish(open, abandoned);
    }
    if (mode === 'complete' && unsettled.length > 0) {
      // SSM counted them finished but does not show them yet: read again next round.
      open.shortReads++;
      if (open.shortReads < MAX_SHORT_READS) return false;
      for (const id of command.instanceIds) {
        if (!open.results.has(id))
          open.results.set(id, { kind: 'failed', detail: 'SSM returned no result for this host' });
      }
    }
    return this.#finish(open, abandoned);
  }

  async #finish(open: Open, abandoned: readonly string[]): Promise<boolean> {
    for (const id of abandoned) open.givenUp.add(id);
    if (abandoned.length > 0) await this.#cancel(open.command.commandId, abandoned);
    if (open.command.instanceIds.every((id) => open.results.has(id))) {
      this.#open.delete(open.command.commandId);
      open.resolve(open.results);
      return true;
    }
    return false;
  }

  /** Cancels invocations the run no longer waits for, so nothing runs on after the run gave up. */
  async #cancel(commandId: string, instanceIds: readonly string[]): Promise<void> {
    try {
      await this.#o.caller.call('CancelCommand', (abortSignal) =>
        this.#o.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [...instanceIds] }), {
          abortSignal,
        }),
      );
    } catch (error) {
      // The push also refuses to act after its not-after time, so a failed cancel is only noted.
      this.#o.warn?.('cancelling abandoned invocations failed', { commandId, error: errorName(error) });
    }
  }

  async #invocations(commandId: string): Promise<CommandInvocation[]> {
    const all: CommandInvocation[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.#o.caller.call('ListCommandInvocations', (abortSignal) =>
        this.#o.ssm.send(
          new ListCommandInvocationsCommand({
            CommandId: commandId,
            Details: true,
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      all.push(...(page.CommandInvocations ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    return all;
  }

  async #interpret(commandId: string, invocation: CommandInvocation): Promise<InvocationResult> {
    const { result, needsFullOutput } = resultOf(invocation);
    if (!needsFullOutput || result.kind !== 'output' || !invocation.InstanceId) return result;
    // Details hold only the first 2,500 characters; GetCommandInvocation returns up to 24,000.
    try {
      const full = await this.#o.caller.call('GetCommandInvocation', (abortSignal) =>
        this.#o.ssm.send(
          new GetCommandInvocationCommand({
            CommandId: commandId,
            InstanceId: invocation.InstanceId,
            PluginName: needsFullOutput,
          }),
          { abortSignal },
        ),
      );
      return { ...result, output: full.StandardOutputContent ?? result.output };
    } catch {
      return result;
    }
  }
}

/**
 * "CompletedCount: The number of targets for which the command invocation reached a terminal
 * state. Terminal states include: Success, Failed, Execution Timed Out, Delivery Timed Out,
 * Cancelled, Terminated, or Undeliverable." (API_Command)
 *
 * Invocations the run gave up on and cancelled are already settled, and may stay Cancelling (not
 * terminal, so not counted) for a while: `givenUp` of them, those not yet seen terminal, count as
 * done. One that turned Cancelled since the last read is counted twice, so this can say complete
 * while a host still runs; #collect then finds that host running, waits without taking it for a
 * missing result, and notes the Cancelled one, so that costs one read, not one a round.
 */
function isComplete(command: Command, givenUp: number): boolean {
  const targets = command.TargetCount ?? 0;
  return targets > 0 && (command.CompletedCount ?? 0) + givenUp >= targets;
}
