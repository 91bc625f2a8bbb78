/**
 * What one host's invocation of a document came to, read from SSM's CommandInvocation.
 * Statuses: "Understanding command statuses", AWS Systems Manager User Guide.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html
 */
import type { CommandInvocation } from '@aws-sdk/client-ssm';

export type InvocationResult =
  | {
      readonly kind: 'output';
      readonly succeeded: boolean;
      readonly output: string;
      /** The agent stopped the step at its timeoutSeconds (ExecutionTimedOut). */
      readonly timedOut?: true;
    }
  | { readonly kind: 'unreachable'; readonly detail: string }
  | { readonly kind: 'failed'; readonly detail: string };

/** Details meaning the document never ran on the host: try again next run. */
const UNDELIVERED = new Set([
  'Undeliverable',
  'DeliveryTimedOut',
  'Delivery Timed Out',
  'Terminated',
  'InvalidPlatform',
]);
const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut']);
/** Statuses of an invocation the agent has not started: waiting longer only helps if it comes back. */
const NOT_STARTED = new Set(['Pending', 'Delayed']);
/** The SSM agent's text for a step whose platform precondition does not match. */
const SKIPPED = /^Step execution skipped due to/;
/** Every document step ends its report with this line; without it the output was cut. */
const COMPLETE = /^end$/m;

export function isTerminal(invocation: CommandInvocation): boolean {
  return TERMINAL.has(invocation.Status ?? '') || UNDELIVERED.has(invocation.StatusDetails ?? '');
}

export function isNotStarted(invocation: CommandInvocation): boolean {
  return NOT_STARTED.has(invocation.Status ?? '');
}

/**
 * Interprets a terminal invocation. `needsFullOutput` names the plugin whose output was cut
 * at ListCommandInvocations' 2,500 characters, so the caller can read it whole.
 */
export function resultOf(invocation: CommandInvocation): {
  result: InvocationResult;
  needsFullOutput?: string;
} {
  const details = invocation.StatusDetails ?? invocation.Status ?? 'unknown';
  if (UNDELIVERED.has(details)) return { result: { kind: 'unreachable', detail: details } };
  if (invocation.Status === 'Cancelled') {
    return { result: { kind: 'failed', detail: 'the command was cancelled' } };
  }
  if (invocation.Status === 'TimedOut' && details !== 'ExecutionTimedOut') {
    return { result: { kind: 'unreachable', detail: details } };
  }
  // One step per platform: the other platform's step reports Success with a skip message.
  const ran = (invocation.CommandPlugins ?? []).filter((p) => !SKIPPED.test(p.Output ?? ''));
  const output = ran.map((p) => p.Output ?? '').join('\n');
  const result: InvocationResult = {
    kind: 'output',
    succeeded: invocation.Status === 'Success',
    output,
    ...(invocation.Status === 'TimedOut' ? { timedOut: true as const } : {}),
  };
  const plugin = ran.length === 1 ? ran[0]?.Name : undefined;
  if (!COMPLETE.test(output) && plugin) return { result, needsFullOutput: plugin };
  return { result };
}
