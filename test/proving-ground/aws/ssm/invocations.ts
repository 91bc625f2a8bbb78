/**
 * The per-node command engine: delivers each invocation of a SendCommand to its node when the node's
 * agent can take it, runs the steps through `SimulatedFleet.runStep` with their execution timeouts, and
 * cancels what CancelCommand asks for.
 */
import type { SimulatedFleet, SimulatedNode, StepResult } from '../../types.ts';
import { type CommandDocument, envVarParameters } from '../documents.ts';
import { agentEnvironment } from './agent.ts';
import {
  type CommandState,
  finishPlugin,
  type InvocationState,
  isTerminal,
  markCancelled,
  planInvocation,
} from './commands.ts';

/** How often a Pending invocation looks whether its node can take it. */
const DELIVERY_POLL_MS = 250;

export interface InvocationEngineOptions {
  readonly fleet: SimulatedFleet;
  readonly region: string;
  /** How long an online node's invocation stays Pending before the agent picks it up (drawn per invocation). */
  readonly deliveryDelayMs: number | (() => number);
  /** How long a cancelled invocation shows Cancelling before it is Cancelled; default 0 (at once). */
  readonly cancellingMs?: number;
}

export class InvocationEngine {
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly cancels = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  constructor(private readonly options: InvocationEngineOptions) {}

  /** Adds the command's invocation on `node` and starts delivering it. */
  send(
    command: CommandState,
    doc: CommandDocument,
    node: SimulatedNode,
    params: ReadonlyMap<string, readonly string[]>,
  ): void {
    const invocation = planInvocation(command, doc, node, params);
    command.invocations.push(invocation);
    this.track(this.deliver(command, invocation, node, doc, params));
  }

  /**
   * CancelCommand on one invocation: not yet terminal (Pending, Delayed or InProgress), it shows
   * Cancelling, "The command is being cancelled" ("Understanding command statuses",
   * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html), for
   * `cancellingMs` and, when a step runs, at least until its process has been killed; then it is
   * Cancelled. A terminal one is left alone.
   */
  cancel(inv: InvocationState): void {
    if (isTerminal(inv.status) || inv.cancelRequested) return;
    inv.cancelRequested = true;
    const wasRunning = inv.status === 'InProgress';
    const cancellingMs = this.options.cancellingMs ?? 0;
    inv.cancelledNotBefore = Date.now() + cancellingMs;
    inv.status = 'Cancelling';
    inv.statusDetails = 'Cancelling';
    for (const p of inv.plugins) {
      if (isTerminal(p.status)) continue;
      p.status = 'Cancelling';
      p.statusDetails = 'Cancelling';
    }
    if (wasRunning) {
      // The agent is running it: execute() finishes it once the step's process is gone.
      inv.running?.abort(new Error('Cancelled'));
    } else if (cancellingMs <= 0) {
      markCancelled(inv);
    } else {
      this.track(this.delay(cancellingMs).then(() => markCancelled(inv)));
    }
  }

  /** Resolves once every invocation started so far is terminal (including ones that start meanwhile). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) {
      clearTimeout(t);
      this.cancels.get(t)?.();
    }
    this.timers.clear();
    this.cancels.clear();
  }

  private track(work: Promise<void>): void {
    const tracked = work.catch(() => undefined);
    this.running.add(tracked);
    void tracked.finally(() => this.running.delete(tracked));
  }

  private currentNode(id: string): SimulatedNode | undefined {
    const { fleet } = this.options;
    return fleet.node ? fleet.node(id) : fleet.nodes().find((n) => n.instanceId === id);
  }

  /**
   * Delivery, the way "Understanding command statuses" describes it
   * (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html):
   * - Pending: "The command hasn't been sent to the managed node or hasn't been received by SSM Agent." A node
   *   that is ConnectionLost keeps it Pending; if its agent comes back in time, it runs then.
   * - Delayed: "The system attempted to send the command to the managed node but wasn't successful" - used
   *   for a node that was reachable when the command was sent and dropped (or was stopped) before pick-up.
   * - The agent picks a command up only within TimeoutSeconds ("If this time is reached and the command
   *   hasn't already started running, it won't run", API_SendCommand); the invocation turns TimedOut /
   *   DeliveryTimedOut when the total timeout (delivery + execution, ExpiresAfter) has passed.
   * Undeliverable is not produced: AWS documents it for nodes that "might not exist", which SendCommand
   * already refuses here with InvalidInstanceId.
   */
  private async deliver(
    command: CommandState,
    inv: InvocationState,
    sentTo: SimulatedNode,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    const pickUpUntil = command.requested.getTime() + command.timeoutSeconds * 1000;
    const reachable = (n: SimulatedNode | undefined) =>
      n?.online === true && (n.state ?? 'running') === 'running';
    for (;;) {
      if (this.closed || inv.cancelRequested) return;
      const node = this.currentNode(sentTo.instanceId);
      if (node !== undefined && reachable(node)) {
        // The agent picks the command up after `deliveryDelayMs`, if its node is still there by then.
        const { deliveryDelayMs } = this.options;
        await this.delay(typeof deliveryDelayMs === 'number' ? deliveryDelayMs : deliveryDelayMs());
        if (this.closed || inv.cancelRequested) return;
        const now = this.currentNode(sentTo.instanceId);
        if (now !== undefined && reachable(now)) {
          await this.execute(inv, now, doc, params);
          return;
        }
      }
      if (Date.now() >= pickUpUntil) {
        await this.delay(Math.max(0, command.expiresAfter.getTime() - Date.now()));
        if (inv.cancelRequested) return;
        inv.status = 'TimedOut';
        inv.statusDetails = 'DeliveryTimedOut';
        inv.responseCode = -1;
        for (const p of inv.plugins) {
          p.status = 'TimedOut';
          p.statusDetails = 'DeliveryTimedOut';
        }
        return;
      }
      if (sentTo.online) {
        inv.status = 'Delayed';
        inv.statusDetails = 'Delayed';
        for (const p of inv.plugins) {
          p.status = 'Delayed';
          p.statusDetails = 'Delayed';
        }
      }
      await this.delay(Math.max(1, Math.min(DELIVERY_POLL_MS, pickUpUntil - Date.now())));
    }
  }

  /** A timer that close() cancels (the pending work then settles without finishing). */
  private delay(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.cancels.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
      this.cancels.set(timer, () => reject(new Error('server closed')));
    });
  }

  private async execute(
    inv: InvocationState,
    node: SimulatedNode,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
  ): Promise<void> {
    inv.status = 'InProgress';
    inv.statusDetails = 'InProgress';
    const env = agentEnvironment(node, this.options.region, inv.commandId, envVarParameters(doc, params));
    for (const plugin of inv.plugins) {
      if (inv.cancelRequested) break;
      plugin.start = new Date();
      if (plugin.skipMessage !== undefined) {
        // Skipped steps report Success with the agent's skip message as output.
        finishPlugin(plugin, { exitCode: 0, stdout: plugin.skipMessage, stderr: '', timedOut: false });
        continue;
      }
      plugin.status = 'InProgress';
      plugin.statusDetails = 'InProgress';
      // The step's timeoutSeconds is its execution timeout, in real seconds: past it the step is killed and
      // reported TimedOut / ExecutionTimedOut ("Execution Timed Out: Command execution started on the managed
      // node, but the execution wasn't complete before the execution timeout expired", monitor-commands.html).
      const controller = new AbortController();
      inv.running = controller;
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new Error('ExecutionTimedOut'));
      }, plugin.timeoutSeconds * 1000);
      let result: StepResult;
      try {
        result = await this.options.fleet.runStep({
          instanceId: inv.instanceId,
          action: plugin.action,
          script: plugin.script,
          env,
          timeoutSeconds: plugin.timeoutSeconds,
          signal: controller.signal,
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result = { exitCode: 1, stdout: '', stderr: `failed to run commands: ${message}`, timedOut: false };
      } finally {
        clearTimeout(timer);
        inv.running = undefined;
      }
      if (inv.cancelRequested) {
        plugin.end = new Date();
        plugin.stdout = result.stdout;
        plugin.stderr = result.stderr;
        // Still Cancelling: markCancelled below makes it Cancelled with the invocation.
        break;
      }
      finishPlugin(plugin, timedOut ? { ...result, timedOut: true, exitCode: -1 } : result);
    }
    if (inv.cancelRequested) {
      // Cancelling for at least `cancellingMs` from the cancel, however quickly the process died.
      await this.delay(Math.max(0, (inv.cancelledNotBefore ?? 0) - Date.now()));
      markCancelled(inv);
      return;
    }
    const ran = inv.plugins.filter((p) => p.skipMessage === undefined);
    const timedOut = inv.plugins.find((p) => p.status === 'TimedOut');
    const failed = inv.plugins.find((p) => p.status === 'Failed');
    if (timedOut !== undefined) {
      inv.status = 'TimedOut';
      inv.statusDetails = 'ExecutionTimedOut';
    } else if (failed !== undefined) {
      inv.status = 'Failed';
      inv.statusDetails = 'Failed';
    } else {
      inv.status = 'Success';
      inv.statusDetails = 'Success';
    }
    inv.responseCode = (timedOut ?? failed ?? ran[ran.length - 1])?.responseCode ?? 0;
  }
}
