/**
 * Step 2, observe: runs the probe SSM document (`probeDocument()` in
 * shared/documents/ssm-documents.ts, deployed as the function's `probe` document) on every
 * reachable host. Each host answers with each component's token (header and payload only)
 * and any waiting registration file, in the host line protocol (shared/documents/README.md).
 * The step is named for what it does in the run; the document's name, `probe`, is fixed by
 * the external contract that names the two documents `probe` and `push`.
 */

import { PROBE_TIMEOUT_SECONDS } from '../../shared/documents/ssm-documents.ts';
import { type ProbeReport, parseProbeOutput } from '../../shared/host-report.ts';
import type { ManagedNode } from '../fleet-api.ts';
import { LEFT_FOR_NEXT_RUN, nowSeconds, type RunContext } from './context.ts';
import {
  commentFor,
  commonParameters,
  fairOrder,
  interpret,
  isUnusable,
  PINNED_DOCUMENT_VERSION,
} from './document-runs.ts';
import { type HostOutcome, wholeHost } from './host-outcome.ts';

/** A host the probe answered, and what it answered (its sightings of each component, its key). */
export interface ProbedHost {
  readonly node: ManagedNode;
  readonly report: ProbeReport;
}

export interface Observations {
  readonly probed: readonly ProbedHost[];
  readonly settled: readonly HostOutcome[];
  /**
   * Epoch seconds when the probe went out. Tokens are judged as of then: one that was
   * valid when seen and expired while the answer travelled is its component's to refresh.
   */
  readonly observedAt: number;
}

/** Longest the probe runs once a host has picked it up: its steps' timeoutSeconds (pick-up is waited for apart). */
export const PROBE_EXECUTION_SECONDS = PROBE_TIMEOUT_SECONDS;
/** What a probe takes on a healthy host, sealing key included: a few seconds. */
export const PROBE_EXPECTED_SECONDS = 5;

/**
 * The probe, with `KeyPair=auto`: a host whose own reading of the rule says a component is locked out
 * (its token expired longer than GraceSeconds ago, no file waiting: shared/token-rules.ts `decide`,
 * mirrored in the scripts) makes its sealing key now, so the prepare round is not needed for it. A key a
 * host made that the function does not use (clocks that disagree) opens nothing without a ciphertext
 * sealed to it and is swept after its TTL; a host the function delivers to that made none is probed
 * again by prepare, alone. A dry run makes no key anywhere.
 */
export async function observe(nodes: readonly ManagedNode[], ctx: RunContext): Promise<Observations> {
  const observedAt = nowSeconds(ctx);
  if (nodes.length === 0) return { probed: [], settled: [], observedAt };
  if (ctx.now() >= ctx.deadlineAt) {
    return {
      probed: [],
      settled: nodes.map((n) => wholeHost(n, 'failed', LEFT_FOR_NEXT_RUN)),
      observedAt,
    };
  }
  const ordered = fairOrder(nodes, ctx.runId);
  const results = await ctx.fleet.runDocument({
    documentName: ctx.config.documents.probe,
    documentVersion: PINNED_DOCUMENT_VERSION,
    documentHash: ctx.config.documentHashes.probe,
    instanceIds: ordered.map((n) => n.instanceId),
    parametersFor: () => ({
      ...commonParameters(ctx),
      KeyPair: [ctx.scope === 'dry-run' ? 'none' : 'auto'],
      GraceSeconds: [String(ctx.config.gracePeriodSeconds)],
    }),
    comment: commentFor(ctx, 'observe'),
    expectedSeconds: PROBE_EXPECTED_SECONDS,
    executionSeconds: PROBE_EXECUTION_SECONDS,
    giveUpAt: ctx.deadlineAt,
    giveUpReason: LEFT_FOR_NEXT_RUN,
  });
  const probed: ProbedHost[] = [];
  const settled: HostOutcome[] = [];
  for (const node of ordered) {
    const report = interpret(results.get(node.instanceId), parseProbeOutput, 'probe');
    if (isUnusable(report)) settled.push(wholeHost(node, report.status, report.reason));
    else probed.push({ node, report });
  }
  return { probed, settled, observedAt };
}
