/**
 * The per-node command engine: delivers each invocation of a SendCommand to its node when the node's
 * agent can take it, runs the steps through `SimulatedFleet.runStep` with their execution timeouts, and
 * cancels what CancelCommand asks for.
 */
import type { SimulatedFleet, SimulatedNode, StepResult } from '../../types.ts';
import { agentParameterProblem, type CommandDocument, envVarParameters } from '../documents.ts';
import { agentEnvironment } from './agent.ts';
import {
  type CommandState,
  finishPlugin,
  type InvocationState,
  type InvocationStatus,
  isTerminal,
  markCancelled,
  planInvocation,
} from './commands.ts';
import type { MessageDelivery, StepReport } from './message-delivery.ts';

/** How often a Pending invocation looks whether its node can take it. */
const DELIVERY_POLL_MS = 250;

export interface InvocationEngineOptions {
  readonly fleet: SimulatedFleet;
  readonly region: string;
  /** How long an online node's invocation stays Pending before the agent picks it up (drawn per invocation). */
  readonly deliveryDelayMs: number | (() => number);
  /** How long a cancelled invocation shows Cancelling before it is Cancelled; default 0 (at once). */
  readonly cancellingMs?: number;
  /** Where commands go for nodes a real SSM Agent runs (`SimulatedFleet.deliversByAgent`). */
  readonly messageDelivery?: MessageDelivery;
}

/** A command handed to a real agent: its message, and how to end the wait for it. */
interface AgentDelivery {
  readonly messageId: string;
  readonly finish: () => void;
}

export class InvocationEngine {
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly cancels = new Map<NodeJS.Timeout, () => void>();
  private readonly agentDeliveries = new Map<InvocationState, AgentDelivery>();
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
    const agent = this.agentDeliveries.get(inv);
    if (agent !== undefined) {
      // A real agent's command. Not yet taken: the service takes the message back. Taken: the service
      // sends the agent a cancel message, and it stays Cancelling until the agent replies Cancelled.
      if (this.options.messageDelivery?.withdraw(agent.messageId)) {
        this.track(
          this.delay(cancellingMs).then(() => {
            markCancelled(inv);
            agent.finish();
          }),
        );
      } else {
        this.options.messageDelivery?.cancelCommand(agent.messageId, inv.instanceId);
      }
      return;
    }
    if (wasRunning) {
      // The agent is running it: execute() finishes it once the step's process is gone. An agent that
      // stopped answering never hears the cancel: it stays Cancelling (execute() withholds the end).
      if (this.answering(inv.instanceId)) inv.running?.abort(new Error('Cancelled'));
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
    if (this.options.fleet.deliversByAgent?.(sentTo.instanceId) && this.options.messageDelivery) {
      await this.deliverToAgent(command, inv, doc, params, this.options.messageDelivery);
      return;
    }
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
          await this.execute(inv, now, doc, params, command.expiresAfter);
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

  /**
   * A node run by a real SSM Agent: the command waits in the message delivery service until the agent
   * takes it (GetMessages, AcknowledgeMessage), and its status and output are what the agent replies.
   * The delivery timeout is the service's: a message not taken by then is taken back and the invocation
   * turns TimedOut / DeliveryTimedOut when the total timeout has passed (monitor-commands.html). A taken
   * command the agent never finishes (its process was stopped) ends TimedOut / ExecutionTimedOut then too,
   * or Cancelled when a cancel was asked for.
   */
  private deliverToAgent(
    command: CommandState,
    inv: InvocationState,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
    mds: MessageDelivery,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      let taken = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.agentDeliveries.delete(inv);
        resolve();
      };
      const messageId = mds.sendCommand(
        {
          commandId: command.id,
          instanceId: inv.instanceId,
          documentName: doc.name,
          documentContent: doc.content,
          parameters: params,
        },
        {
          acknowledged: () => {
            taken = true;
            if (inv.status === 'Pending' || inv.status === 'Delayed') {
              inv.status = 'InProgress';
              inv.statusDetails = 'InProgress';
            }
          },
          replied: (documentStatus, traceOutput, steps) => {
            taken = true;
            applyStepReports(inv, steps);
            if (traceOutput !== '') inv.traceOutput = traceOutput;
            if (finishFromAgent(inv, documentStatus)) finish();
          },
        },
      );
      this.agentDeliveries.set(inv, { messageId, finish });
      const pickUpUntil = command.requested.getTime() + command.timeoutSeconds * 1000;
      void this.delay(Math.max(0, pickUpUntil - Date.now()))
        .then(async () => {
          if (done || taken || !mds.withdraw(messageId)) return;
          await this.delay(Math.max(0, command.expiresAfter.getTime() - Date.now()));
          if (done) return;
          setTimedOut(inv, 'DeliveryTimedOut');
          finish();
        })
        .catch(finish);
      void this.delay(Math.max(0, command.expiresAfter.getTime() - Date.now()) + 1000)
        .then(() => {
          if (done) return;
          if (inv.cancelRequested) markCancelled(inv);
          else setTimedOut(inv, taken ? 'ExecutionTimedOut' : 'DeliveryTimedOut');
          finish();
        })
        .catch(finish);
    });
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

  /** Whether the node's agent still talks to the service (it has not gone ConnectionLost or stopped). */
  private answering(instanceId: string): boolean {
    return this.currentNode(instanceId)?.online === true;
  }

  /**
   * A step ended on a node whose agent has stopped answering: nobody reports it, nor hears a cancel. Seen
   * from the real agent stopped mid-step: the invocation stayed InProgress, and after a cancel Cancelling.
   * As with a real agent's command (deliverToAgent), it ends when the command expires: Cancelled if a cancel
   * was asked for, else TimedOut / ExecutionTimedOut.
   */
  private async withhold(inv: InvocationState, expiresAfter: Date): Promise<void> {
    await this.delay(Math.max(0, expiresAfter.getTime() - Date.now()) + 1000);
    if (inv.cancelRequested) markCancelled(inv);
    else setTimedOut(inv, 'ExecutionTimedOut');
  }

  private async execute(
    inv: InvocationState,
    node: SimulatedNode,
    doc: CommandDocument,
    params: ReadonlyMap<string, readonly string[]>,
    expiresAfter: Date,
  ): Promise<void> {
    inv.status = 'InProgress';
    inv.statusDetails = 'InProgress';
    // The agent checks the parameters before any step: a refused document runs nothing, and ends Failed
    // with the agent's words as its trace output, as the real agent's single Failed reply does.
    const refused = agentParameterProblem(doc, params);
    if (refused !== undefined) {
      inv.traceOutput = refused;
      finishFromAgent(inv, 'Failed');
      return;
    }
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
      if (!this.answering(inv.instanceId)) {
        await this.withhold(inv, expiresAfter);
        return;
      }
      if (inv.cancelRequested) {
        plugin.end = new Date();
        plugin.stdout = result.stdout;
        plugin.stderr = result.stderr;
        // Still Cancelling: markCancelled below makes it Cancelled with the invocation.
        break;
      }
      // A step killed at its timeout reports the agent's "stopped preemptively" code: 137 (128 + SIGKILL) on
      // Linux, -1 on Windows (agent/appconfig/constants_unix.go, constants_windows.go
      // CommandStoppedPreemptivelyExitCode); the real agent answered 137 on the proving ground.
      const killedCode = node.platform === 'Windows' ? -1 : 137;
      finishPlugin(
        plugin,
        timedOut ? { ...result, timedOut: true, exitCode: killedCode } : withExitError(result),
      );
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

/** The agent's step statuses (agent/contracts/model.go ResultStatus) as Run Command shows them. */
function stepStatus(status: string): { status: InvocationStatus; details: string } | undefined {
  switch (status) {
    case 'Success':
    case 'Skipped': // "Skipped is a form of success" (agent/contracts/aggregator.go)
      return { status: 'Success', details: 'Success' };
    case 'Failed':
      return { status: 'Failed', details: 'Failed' };
    case 'TimedOut':
      return { status: 'TimedOut', details: 'ExecutionTimedOut' };
    case 'Cancelled':
      return { status: 'Cancelled', details: 'Cancelled' };
    case 'InProgress':
      return { status: 'InProgress', details: 'InProgress' };
    default:
      return undefined;
  }
}

function applyStepReports(inv: InvocationState, steps: ReadonlyMap<string, StepReport>): void {
  for (const [name, report] of steps) {
    const plugin = inv.plugins.find((p) => p.name === name);
    const mapped = stepStatus(report.status);
    if (plugin === undefined || mapped === undefined) continue;
    plugin.status = mapped.status;
    plugin.statusDetails = mapped.details;
    plugin.responseCode = report.code;
    plugin.stdout = report.standardOutput;
    plugin.stderr = report.standardError;
    plugin.reportedOutput = report.output;
    plugin.start = parseDate(report.startDateTime) ?? plugin.start ?? new Date();
    if (isTerminal(mapped.status)) plugin.end = parseDate(report.endDateTime) ?? new Date();
  }
}

/** Applies the agent's document status; true when the invocation is now terminal. */
function finishFromAgent(inv: InvocationState, documentStatus: string): boolean {
  const mapped = stepStatus(documentStatus);
  if (mapped === undefined || !isTerminal(mapped.status)) return false;
  inv.status = mapped.status;
  inv.statusDetails = mapped.details;
  // Steps the agent never reported on (it refused the document before any ran) end with the document.
  for (const p of inv.plugins) {
    if (isTerminal(p.status)) continue;
    p.status = mapped.status;
    p.statusDetails = mapped.details;
    p.reportedOutput = inv.traceOutput ?? '';
    p.end = new Date();
  }
  const ran = inv.plugins.filter((p) => p.skipMessage === undefined);
  inv.responseCode = (ran.find((p) => p.status !== 'Success') ?? ran[ran.length - 1])?.responseCode ?? -1;
  return true;
}

function setTimedOut(inv: InvocationState, details: 'DeliveryTimedOut' | 'ExecutionTimedOut'): void {
  inv.status = 'TimedOut';
  inv.statusDetails = details;
  inv.responseCode = -1;
  for (const p of inv.plugins) {
    if (isTerminal(p.status)) continue;
    p.status = 'TimedOut';
    p.statusDetails = details;
  }
}

function parseDate(value: string | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * What the agent adds to a step's standard error when the script exits non-zero (and was neither cancelled
 * nor timed out): `failed to run commands: exit status N`, written straight after what the script wrote
 * (agent/plugins/runscript/runscript.go MarkAsFailed; iohandler.go AppendError adds a newline only when
 * its buffered stderr is non-empty, and while a stderr writer is in use it is empty). Seen from the real
 * agent on the proving ground: `to stderr\nfailed to run commands: exit status 3`.
 */
export function withExitError(result: StepResult): StepResult {
  if (result.exitCode === 0 || result.timedOut || result.stderr.includes('failed to run commands:'))
    return result;
  return { ...result, stderr: `${result.stderr}failed to run commands: exit status ${result.exitCode}` };
}
