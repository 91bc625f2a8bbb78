/**
 * A scripted SSM client for narrow unit tests of the command runner: each host's
 * invocation follows a behaviour the test picks. The end-to-end tests prove the same
 * runner against the proving ground's wire-level SSM.
 */
import type { SSMClient } from '@aws-sdk/client-ssm';

export type Behaviour =
  | { readonly kind: 'succeed'; readonly afterMs?: number; readonly output?: string }
  | { readonly kind: 'never-start' }
  | { readonly kind: 'run-forever' }
  | { readonly kind: 'invalid' }
  /** Ends at once with this status (and details, and plugin outputs), as SSM shows it. */
  | {
      readonly kind: 'end';
      readonly status: string;
      readonly details?: string;
      readonly plugins?: readonly { readonly Name: string; readonly Output: string }[];
    };

interface Invocation {
  instanceId: string;
  status: string;
  details: string;
  output: string;
  plugins?: readonly { readonly Name: string; readonly Output: string }[];
  finishAt?: number;
  /** When a Cancelling invocation turns Cancelled. */
  cancelledAt?: number;
}

interface Command {
  id: string;
  documentName: string;
  sentAt: number;
  invocations: Invocation[];
}

export const awsError = (name: string, message = name) => Object.assign(new Error(message), { name });

/** An interjected answer that never comes: the call hangs until its abort signal fires. */
export const HANG = Object.freeze({ hang: 'until aborted' });

export class FakeSsm {
  readonly commands: Command[] = [];
  readonly calls: { operation: string; input: Record<string, unknown> }[] = [];
  /** SendCommand attempts to answer with a throttle before accepting. */
  throttleSends = 0;
  /** ListCommandInvocations calls per command answered empty (eventual consistency). */
  invisibleReads = 0;
  /** ListCommands answers this many commands a page (all on one page when unset). */
  listCommandsPageSize: number | undefined;
  /**
   * How long a cancelled invocation shows Cancelling before it is Cancelled (Infinity: it stays
   * Cancelling), for all hosts or per host; unset, cancelling is at once ("Understanding command
   * statuses", monitor-commands.html).
   */
  cancellingMs: number | ((instanceId: string) => number) | undefined;
  #reads = new Map<string, number>();
  #seq = 0;
  readonly #interjected = new Map<string, (Error | object | null)[]>();

  constructor(
    readonly behaviourOf: (instanceId: string) => Behaviour,
    /** The clock invocations finish by (tests of the poller pass a fake one). */
    readonly now: () => number = Date.now,
  ) {}

  /**
   * The next calls of `operation` get these answers, one each, instead of the usual one: an
   * Error is thrown (an AWS error, see awsError), null is the usual answer, anything else is
   * the response.
   */
  interject(operation: string, ...answers: (Error | object | null)[]): void {
    this.#interjected.set(operation, [...(this.#interjected.get(operation) ?? []), ...answers]);
  }

  count(operation: string): number {
    return this.calls.filter((c) => c.operation === operation).length;
  }

  get client(): SSMClient {
    return {
      send: (command: { input: Record<string, unknown> }, options?: { abortSignal?: AbortSignal }) =>
        this.#send(command, options),
    } as unknown as SSMClient;
  }

  async #send(
    command: { input: Record<string, unknown>; constructor: { name: string } },
    options?: { abortSignal?: AbortSignal },
  ): Promise<unknown> {
    const operation = command.constructor.name.replace(/Command$/, '');
    const input = command.input;
    this.calls.push({ operation, input });
    this.#advance();
    const interjected = this.#interjected.get(operation)?.shift();
    if (interjected === HANG) {
      return new Promise((_, reject) =>
        options?.abortSignal?.addEventListener('abort', () => reject(options.abortSignal?.reason)),
      );
    }
    if (interjected instanceof Error) throw interjected;
    if (interjected) return interjected;
    switch (operation) {
      case 'SendCommand':
        return this.#sendCommand(input);
      case 'ListCommands': {
        // DocumentName and ExecutionStage ("Executing: ... currently still running", "Complete: ... have
        // already completed", API_CommandFilter) are modelled.
        const running = (c: (typeof this.commands)[number]) =>
          c.invocations.some((i) => !TERMINAL.has(i.status));
        const all = this.commands.filter((c) =>
          (input.Filters as { key: string; value: string }[]).every(
            (f) =>
              (f.key !== 'DocumentName' || f.value === c.documentName) &&
              (f.key !== 'ExecutionStage' || (f.value === 'Executing') === running(c)),
          ),
        );
        const start = Number(input.NextToken ?? 0);
        const end = this.listCommandsPageSize ? start + this.listCommandsPageSize : all.length;
        return {
          Commands: all.slice(start, end).map((c) => ({
            CommandId: c.id,
            DocumentName: c.documentName,
            TargetCount: c.invocations.length,
            CompletedCount: c.invocations.filter((i) => TERMINAL.has(i.status)).length,
          })),
          ...(end < all.length ? { NextToken: String(end) } : {}),
        };
      }
      case 'ListCommandInvocations': {
        const id = input.CommandId as string;
        const reads = (this.#reads.get(id) ?? 0) + 1;
        this.#reads.set(id, reads);
        if (reads <= this.invisibleReads) return { CommandInvocations: [] };
        const c = this.commands.find((x) => x.id === id);
        return {
          CommandInvocations: (c?.invocations ?? []).map((i) => ({
            CommandId: id,
            InstanceId: i.instanceId,
            Status: i.status,
            StatusDetails: i.details,
            // Plugin outputs come only with Details, as in SSM.
            CommandPlugins:
              input.Details === true && TERMINAL.has(i.status)
                ? (i.plugins ?? [{ Name: 'linux', Output: i.output }]).map((p) => ({
                    ...p,
                    Output: p.Output.slice(0, 2500),
                  }))
                : [],
          })),
        };
      }
      case 'GetCommandInvocation': {
        const c = this.commands.find((x) => x.id === input.CommandId);
        const i = c?.invocations.find((x) => x.instanceId === input.InstanceId);
        return { StandardOutputContent: i?.output ?? '' };
      }
      case 'CancelCommand': {
        const c = this.commands.find((x) => x.id === input.CommandId);
        for (const i of c?.invocations ?? []) {
          if (
            (input.InstanceIds as string[]).includes(i.instanceId) &&
            !TERMINAL.has(i.status) &&
            i.status !== 'Cancelling'
          ) {
            const ms =
              typeof this.cancellingMs === 'function'
                ? this.cancellingMs(i.instanceId)
                : (this.cancellingMs ?? 0);
            const cancelling = ms > 0;
            i.status = cancelling ? 'Cancelling' : 'Cancelled';
            i.details = i.status;
            i.finishAt = undefined;
            if (cancelling) i.cancelledAt = this.now() + ms;
          }
        }
        return {};
      }
      default:
        throw new Error(`FakeSsm does not know ${operation}`);
    }
  }

  #sendCommand(input: Record<string, unknown>) {
    if (this.throttleSends > 0) {
      this.throttleSends--;
      throw awsError('ThrottlingException', 'Rate exceeded');
    }
    const ids = input.InstanceIds as string[];
    if (ids.some((id) => this.behaviourOf(id).kind === 'invalid')) throw awsError('InvalidInstanceId');
    const now = this.now();
    const command: Command = {
      id: `00000000-0000-0000-0000-${String(++this.#seq).padStart(12, '0')}`,
      documentName: input.DocumentName as string,
      sentAt: now,
      invocations: ids.map((instanceId) => {
        const b = this.behaviourOf(instanceId);
        if (b.kind === 'never-start')
          return { instanceId, status: 'Pending', details: 'Pending', output: '' };
        if (b.kind === 'run-forever')
          return { instanceId, status: 'InProgress', details: 'InProgress', output: '' };
        if (b.kind === 'end') {
          const plugins = b.plugins ?? [];
          return {
            instanceId,
            status: b.status,
            details: b.details ?? b.status,
            output: plugins.map((p) => p.Output).join('\n'),
            plugins,
          };
        }
        return {
          instanceId,
          status: 'InProgress',
          details: 'InProgress',
          output: b.kind === 'succeed' ? (b.output ?? `ktr-probe v1\nhost ${instanceId}\nend`) : '',
          finishAt: now + (b.kind === 'succeed' ? (b.afterMs ?? 0) : 0),
        };
      }),
    };
    this.commands.push(command);
    return { Command: { CommandId: command.id } };
  }

  #advance(): void {
    const now = this.now();
    for (const c of this.commands) {
      for (const i of c.invocations) {
        if (i.finishAt !== undefined && i.finishAt <= now && i.status === 'InProgress') {
          i.status = 'Success';
          i.details = 'Success';
        }
        if (i.cancelledAt !== undefined && i.cancelledAt <= now && i.status === 'Cancelling') {
          i.status = 'Cancelled';
          i.details = 'Cancelled';
        }
      }
    }
  }
}

const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);
