/**
 * Step 4, prepare: only on hosts that need a delivery, the probe again with KeyPair=create,
 * so each makes an ephemeral RSA key and shows its public half; each component is decided
 * again from that fresher look, and the token is sealed to the host's key.
 */
import type { ComponentName, Platform } from '../../shared/catalog.ts';
import { type ProbeReport, parseProbeOutput } from '../../shared/host-report.ts';
import { cannotUnsealReason, decide, type Policy } from '../../shared/token-rules.ts';
import type { ManagedNode } from '../fleet-api.ts';
import { SealError, sealFor } from '../seal.ts';
import { LEFT_FOR_NEXT_RUN, nowSeconds, type RunContext } from './context.ts';
import {
  commentFor,
  commonParameters,
  interpret,
  isUnusable,
  PINNED_DOCUMENT_VERSION,
} from './document-runs.ts';
import { type HostOutcome, reportOfDecision, someComponents } from './host-outcome.ts';
import { PROBE_EXECUTION_SECONDS, PROBE_EXPECTED_SECONDS } from './observe.ts';
import type { PlannedDelivery } from './plan.ts';

export interface SealedDelivery {
  readonly node: ManagedNode;
  readonly components: readonly ComponentName[];
  /** Base64 RSA-OAEP ciphertext that only this host's ephemeral key opens. */
  readonly sealed: string;
}

export interface Prepared {
  readonly sealed: readonly SealedDelivery[];
  readonly settled: readonly HostOutcome[];
}

export async function prepare(
  planned: readonly PlannedDelivery[],
  token: string,
  policy: Policy,
  ctx: RunContext,
  observed: ReadonlyMap<string, ProbeReport> = new Map(),
): Promise<Prepared> {
  // Hosts that made their key while observed (instance-start runs) are sealed to at once,
  // from the look that just planned them; the others are probed again with KeyPair=create.
  const sealed: SealedDelivery[] = [];
  const settled: HostOutcome[] = [];
  const deliveries: PlannedDelivery[] = [];
  for (const delivery of planned) {
    const report = observed.get(delivery.node.instanceId);
    if (report?.sealingKey?.kind !== 'ready') {
      deliveries.push(delivery);
      continue;
    }
    const result = sealingProblem(delivery.node.platform, report, token);
    if (typeof result === 'string')
      settled.push(someComponents(delivery.node, delivery.components, 'failed', result));
    else sealed.push({ ...delivery, sealed: result.sealed });
  }
  if (deliveries.length === 0) return { sealed, settled };
  if (ctx.now() >= ctx.deadlineAt) {
    return {
      sealed,
      settled: [
        ...settled,
        ...deliveries.map((d) => someComponents(d.node, d.components, 'failed', LEFT_FOR_NEXT_RUN)),
      ],
    };
  }
  const results = await ctx.fleet.runDocument({
    documentName: ctx.config.documents.probe,
    documentVersion: PINNED_DOCUMENT_VERSION,
    documentHash: ctx.config.documentHashes.probe,
    instanceIds: deliveries.map((d) => d.node.instanceId),
    parametersFor: () => ({ ...commonParameters(ctx), KeyPair: ['create'] }),
    comment: commentFor(ctx, 'prepare'),
    expectedSeconds: PROBE_EXPECTED_SECONDS,
    executionSeconds: PROBE_EXECUTION_SECONDS,
    giveUpAt: ctx.deadlineAt,
    giveUpReason: LEFT_FOR_NEXT_RUN,
  });
  for (const { node, components } of deliveries) {
    const report = interpret(results.get(node.instanceId), parseProbeOutput, 'prepare');
    if (isUnusable(report)) {
      // Only the planned components are affected; what the first probe found of the others stands.
      settled.push(someComponents(node, components, report.status, report.reason));
      continue;
    }
    // Decide again from the fresh look: a component may have recovered or gone meanwhile.
    const now = nowSeconds(ctx);
    const still: ComponentName[] = [];
    const done = [];
    for (const name of components) {
      const sighting = report.components.find((s) => s.name === name);
      if (!sighting) {
        done.push({ name, status: 'failed' as const, reason: 'the component disappeared between probes' });
        continue;
      }
      const decision = decide(sighting, now, policy);
      if (decision.action === 'deliver') still.push(name);
      else done.push(reportOfDecision(name, decision));
    }
    const failure = still.length > 0 ? sealingProblem(node.platform, report, token) : undefined;
    if (typeof failure === 'string') {
      for (const name of still) done.push({ name, status: 'failed' as const, reason: failure });
    } else if (failure) {
      sealed.push({ node, components: still, sealed: failure.sealed });
    }
    if (done.length > 0) settled.push({ node, components: done });
  }
  return { sealed, settled };
}

/** The sealed token, or why it cannot be sealed to this host. */
function sealingProblem(platform: Platform, report: ProbeReport, token: string): { sealed: string } | string {
  const key = report.sealingKey;
  if (!report.canUnseal) return cannotUnsealReason(platform);
  if (key?.kind !== 'ready') {
    return `the host could not make a sealing key (${key?.kind === 'error' ? key.reason : 'no key returned'})`;
  }
  try {
    return { sealed: sealFor(key.spkiDerBase64, token) };
  } catch (error) {
    return error instanceof SealError ? error.message : 'sealing failed';
  }
}
