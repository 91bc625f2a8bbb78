/**
 * A command and its invocations as SSM keeps them: their state, how a SendCommand plans one
 * invocation per node, and the status rules (a step's result, cancellation, a command's status
 * from its invocations' statuses).
 */
import { randomUUID } from 'node:crypto';
import type { SimulatedNode, StepResult } from '../../types.ts';
import { type CommandDocument, skipReason, stepTimeoutSeconds, substituteLines } from '../documents.ts';

/** The version every proving-ground document is at (created once, never updated). */
export const DOCUMENT_VERSION = '1';

export type InvocationStatus =
  | 'Pending'
  | 'InProgress'
  | 'Delayed'
  | 'Success'
  | 'Failed'
  | 'TimedOut'
  | 'Cancelled'
  | 'Cancelling';

export interface PluginState {
  readonly name: string;
  readonly action: string;
  readonly script: string;
  readonly timeoutSeconds: number;
  readonly skipMessage: string | undefined;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  start: Date | undefined;
  end: Date | undefined;
  stdout: string;
  stderr: string;
  /** A real agent's own `output` for the step (already cut by the agent); the model cuts stdout and stderr. */
  reportedOutput?: string;
}

export interface InvocationState {
  readonly commandId: string;
  readonly instanceId: string;
  readonly instanceName: string;
  readonly requested: Date;
  status: InvocationStatus;
  statusDetails: string;
  responseCode: number;
  plugins: PluginState[];
  /** Aborts the step running now (CancelCommand). */
  running: AbortController | undefined;
  cancelRequested: boolean;
  /** A real agent's documentTraceOutput (e.g. why it refused the document before any step ran). */
  traceOutput?: string;
  /** Epoch ms before which a cancelled invocation still shows Cancelling. */
  cancelledNotBefore?: number;
}

export interface CommandState {
  readonly id: string;
  readonly documentName: string;
  readonly comment: string;
  readonly parameters: Record<string, readonly string[]>;
  readonly instanceIds: readonly string[];
  readonly requested: Date;
  readonly timeoutSeconds: number;
  readonly expiresAfter: Date;
  /** Eventual consistency: before this the command and its invocations are not visible. */
  readonly visibleAt: Date;
  readonly invocations: InvocationState[];
}

/** A new command of `doc` for the nodes `instanceIds`, without invocations yet. */
export function newCommand(
  doc: CommandDocument,
  params: ReadonlyMap<string, readonly string[]>,
  request: {
    readonly comment: string;
    readonly given: Record<string, readonly string[]>;
    readonly instanceIds: readonly string[];
    /** SendCommand's TimeoutSeconds, the delivery timeout (default an hour). */
    readonly timeoutSeconds: number | undefined;
    readonly consistencyDelayMs: number;
  },
): CommandState {
  const requested = new Date();
  const delivery = request.timeoutSeconds ?? 3600;
  const longestStep = Math.max(0, ...doc.steps.map((s) => stepTimeoutSeconds(s, params)));
  return {
    id: randomUUID(),
    documentName: doc.name,
    comment: request.comment,
    parameters: request.given,
    instanceIds: request.instanceIds,
    requested,
    timeoutSeconds: delivery,
    // "Total timeout is equal to the value of delivery timeout plus execution timeout."
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
    expiresAfter: new Date(requested.getTime() + (delivery + longestStep) * 1000),
    visibleAt: new Date(requested.getTime() + request.consistencyDelayMs),
    invocations: [],
  };
}

/** One invocation of `doc` on `node`, every step Pending, with its parameters substituted. */
export function planInvocation(
  command: CommandState,
  doc: CommandDocument,
  node: SimulatedNode,
  params: ReadonlyMap<string, readonly string[]>,
): InvocationState {
  const plugins = doc.steps.map(
    (step): PluginState => ({
      name: step.name,
      action: step.action,
      script: substituteLines(step.runCommand, params).join('\n'),
      timeoutSeconds: stepTimeoutSeconds(step, params),
      skipMessage: skipReason(step, node.platform),
      status: 'Pending',
      statusDetails: 'Pending',
      responseCode: -1,
      start: undefined,
      end: undefined,
      stdout: '',
      stderr: '',
    }),
  );
  return {
    commandId: command.id,
    instanceId: node.instanceId,
    instanceName: node.computerName,
    requested: command.requested,
    status: 'Pending',
    statusDetails: 'Pending',
    responseCode: -1,
    plugins,
    running: undefined,
    cancelRequested: false,
  };
}

export function finishPlugin(plugin: PluginState, result: StepResult): void {
  plugin.end = new Date();
  plugin.stdout = result.stdout;
  plugin.stderr = result.stderr;
  plugin.responseCode = result.exitCode;
  if (result.timedOut) {
    plugin.status = 'TimedOut';
    plugin.statusDetails = 'ExecutionTimedOut';
  } else if (result.exitCode === 0) {
    plugin.status = 'Success';
    plugin.statusDetails = 'Success';
  } else {
    plugin.status = 'Failed';
    plugin.statusDetails = 'Failed';
  }
}

export function isTerminal(status: InvocationStatus): boolean {
  return status === 'Success' || status === 'Failed' || status === 'TimedOut' || status === 'Cancelled';
}

/** Cancelled: "The command was terminated before it was completed. This is a terminal state." */
export function markCancelled(inv: InvocationState): void {
  inv.status = 'Cancelled';
  inv.statusDetails = 'Cancelled';
  inv.responseCode = -1;
  for (const p of inv.plugins) {
    if (isTerminal(p.status)) continue;
    p.status = 'Cancelled';
    p.statusDetails = 'Cancelled';
  }
}

export interface Aggregate {
  readonly status: string;
  readonly details: string;
  readonly completed: number;
  readonly errors: number;
  readonly deliveryTimedOut: number;
}

/**
 * A command's status from its invocations, with MaxErrors 0 (SendCommand's default here), after
 * Command.Status / StatusDetails / CompletedCount / ErrorCount / DeliveryTimedOutCount in
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Command.html and the command table of
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html:
 * - CompletedCount: invocations in a terminal state (Success, Failed, Execution/Delivery Timed Out, Cancelled).
 * - ErrorCount: "the status is Failed or Execution Timed Out"; DeliveryTimedOutCount: "Delivery Timed Out".
 * - Cancelling while any invocation is Cancelling; Pending while no invocation has been sent; InProgress
 *   while any invocation is not terminal.
 * - Terminal: Cancelled if any invocation was cancelled; Failed (or TimedOut / ExecutionTimedOut when every
 *   error is an execution timeout) once errors exceed MaxErrors; Success when every invocation succeeded;
 *   TimedOut / DeliveryTimedOut when every invocation timed out in delivery; otherwise "Incomplete" ("attempted
 *   on all managed nodes and one or more invocations doesn't have a value of Success but not enough
 *   invocations failed"). Status has no Incomplete value; the proving ground answers Failed, the stricter one.
 */
export function aggregate(c: CommandState): Aggregate {
  const inv = c.invocations;
  const count = (f: (i: InvocationState) => boolean) => inv.filter(f).length;
  const completed = count((i) => isTerminal(i.status));
  const failed = count((i) => i.status === 'Failed');
  const executionTimedOut = count((i) => i.status === 'TimedOut' && i.statusDetails === 'ExecutionTimedOut');
  const deliveryTimedOut = count((i) => i.status === 'TimedOut' && i.statusDetails === 'DeliveryTimedOut');
  const errors = failed + executionTimedOut;
  const base = { completed, errors, deliveryTimedOut };
  const is = (status: string, details = status) => ({ status, details, ...base });
  if (inv.some((i) => i.status === 'Cancelling')) return is('Cancelling');
  if (completed < inv.length) {
    return inv.every((i) => i.status === 'Pending') ? is('Pending') : is('InProgress');
  }
  if (inv.some((i) => i.status === 'Cancelled')) return is('Cancelled');
  if (errors > 0) return failed > 0 ? is('Failed') : is('TimedOut', 'ExecutionTimedOut');
  if (inv.every((i) => i.status === 'Success')) return is('Success');
  if (deliveryTimedOut === inv.length) return is('TimedOut', 'DeliveryTimedOut');
  return is('Failed', 'Incomplete');
}
