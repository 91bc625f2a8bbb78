/**
 * Step 4, prepare: the token sealed to each planned host's key. Most hosts made theirs while observed
 * (KeyPair=auto); only a planned host that made none is probed again, with KeyPair=create, so it makes
 * an ephemeral RSA key and shows its public half; its components are decided again from that fresher
 * look.
 */
import type { ComponentName, Platform } from '../../shared/catalog.ts';
import { type ProbeReport, parseProbeOutput } from '../../shared/host-report.ts';
import { cannotUnsealReason, decide } from '../../shared/token-rules.ts';
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
import type { Plan, PlannedDelivery } from './plan.ts';

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

export async function prepare(planned: Plan, ctx: RunContext): Promise<Prepared> {
  if (planned.deliveries.length === 0) return { sealed: [], settled: [] };
  // The plan delivers nothing without a usable secret; should it be unusable, nothing is sealed.
  const secret = await ctx.secret;
  const token = secret.ok ? secret.token : '';
  // Hosts that made their key while observed are sealed to at once, from the look that just planned
  // them; the others (a host whose reading of the rule or clock differed) are probed again with
  // KeyPair=create.
  const sealed: SealedDelivery[] = [];
  const settled: HostOutcome[] = [];
  const deliveries: PlannedDelivery[] = [];
  for (const delivery of planned.deliveries) {
    if (!secret.ok) {
      settled.push(someComponents(delivery.node, delivery.components, 'failed', secret.problem));
      continue;
    }
    if (delivery.report.sealingKey?.kind !== 'ready') {
      deliveries.push(delivery);
      continue;
    }
    const result = sealingProblem(delivery.node.platform, delivery.report, token);
    if (typeof result === 'string')
      settled.push(someComponents(delivery.node, delivery.components, 'failed', result));
    else sealed.push({ node: delivery.node, components: delivery.components, sealed: result.sealed });
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
    parametersFor: () => ({
      ...commonParameters(ctx),
      KeyPair: ['create'],
      GraceSeconds: [String(ctx.config.gracePeriodSeconds)],
    }),
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
      const decision = decide(sighting, now, ctx.config);
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
