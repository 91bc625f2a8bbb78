/** The probe and push as document runs: their parameters, and how to read a host's answer. */
import type { Parsed } from '../../shared/host-report.ts';
import type { CommandComment, CommandStep } from '../command-comment.ts';
import type { InvocationResult } from '../fleet-api.ts';
import type { RunContext } from './context.ts';

export { PINNED_DOCUMENT_VERSION } from '../../shared/documents/ssm-documents.ts';

/** The Comment of a step's commands: this run, its scope, the step. */
export function commentFor(ctx: RunContext, step: CommandStep): CommandComment {
  return { runId: ctx.runId, scope: ctx.scope, step };
}

/** Parameters both documents take. */
export function commonParameters(ctx: RunContext): Record<string, string[]> {
  const { config } = ctx;
  return {
    InstallRoot: [config.installRoot],
    RunId: [ctx.runId],
    WindowsInstallDir: [config.windowsInstallDir],
    WindowsServiceName: [config.windowsServiceName],
  };
}

/** Why a host's answer cannot be used. */
export interface Unusable {
  readonly unusable: true;
  readonly status: 'failed' | 'unreachable';
  readonly reason: string;
}

export function isUnusable<T extends object>(value: T | Unusable): value is Unusable {
  return 'unusable' in value;
}

/** One host's invocation read as the step's report, or why it cannot be. */
export function interpret<T extends object>(
  result: InvocationResult | undefined,
  parse: (output: string) => Parsed<T>,
  step: string,
): T | Unusable {
  const unusable = (status: Unusable['status'], reason: string): Unusable => ({
    unusable: true,
    status,
    reason,
  });
  if (!result) return unusable('failed', `the ${step} command returned no result for this host`);
  if (result.kind === 'unreachable') {
    return unusable('unreachable', `the ${step} command could not be delivered (${result.detail})`);
  }
  if (result.kind === 'failed') return unusable('failed', `${step}: ${result.detail}`);
  const parsed = parse(result.output);
  if (parsed.ok) return parsed.value;
  const exit = result.timedOut
    ? ' (the agent stopped the script at its timeout)'
    : result.succeeded
      ? ''
      : ' (the script failed)';
  return unusable('failed', `the ${step} output from this host was not understood${exit}: ${parsed.problem}`);
}

/**
 * Hosts in an order that changes from run to run (seeded by the run id), so when a run
 * cannot reach every host before its deadline, no host is always the one left out.
 */
export function fairOrder<T extends { readonly instanceId: string }>(
  nodes: readonly T[],
  runId: string,
): T[] {
  const key = (id: string) => fnv1a(`${runId}/${id}`);
  return [...nodes].sort(
    (a, b) => key(a.instanceId) - key(b.instanceId) || a.instanceId.localeCompare(b.instanceId),
  );
}

/** 32-bit FNV-1a of the UTF-16 code units (each below 256 for the ids and run ids it is given). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
