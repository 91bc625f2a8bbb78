/**
 * Step 5, deliver and confirm: the push document unseals the token on each host, writes
 * registration_token.txt beside each planned component, waits on the host for the
 * component to consume it and reports the token it then holds. That report is the
 * confirmation: no separate probe is needed.
 */

import { encodeDeliveries } from '../../shared/host-protocol.ts';
import { outcomeName, type PushOutcome, parsePushOutput } from '../../shared/host-report.ts';
import { judgeDelivery, type Policy } from '../../shared/token-rules.ts';
import type { InvocationResult } from '../fleet-api.ts';
import { type ComponentReport, isoFromEpochSeconds } from '../report.ts';
import { LEFT_FOR_NEXT_RUN, nowSeconds, type RunContext } from './context.ts';
import { commentFor, commonParameters, PINNED_DOCUMENT_VERSION } from './document-runs.ts';
import { type HostOutcome, someComponents } from './host-outcome.ts';
import type { Prepared, SealedDelivery } from './prepare.ts';

/** Time the push needs besides its wait on the host: agent pick-up, unseal, write, report. */
export const PUSH_OVERHEAD_SECONDS = 15;

export async function deliverAndConfirm(prepared: Prepared, ctx: RunContext): Promise<HostOutcome[]> {
  const deliveries = prepared.sealed;
  if (deliveries.length === 0) return [];
  const { config } = ctx;
  // No push starts without time to finish: it must be picked up, run and waited for.
  const spareSeconds =
    Math.floor((ctx.deadlineAt - ctx.now()) / 1000) - config.pickupSeconds - PUSH_OVERHEAD_SECONDS;
  if (spareSeconds < 0) {
    return deliveries.map((d) => someComponents(d.node, d.components, 'failed', LEFT_FOR_NEXT_RUN));
  }
  const waitSeconds = Math.min(config.confirmWaitSeconds, spareSeconds);
  const byId = new Map(deliveries.map((d) => [d.node.instanceId, d]));
  ctx.log.info('deliver', { hosts: deliveries.length, waitSeconds });
  const results = await ctx.fleet.runDocument({
    documentName: config.documents.push,
    documentVersion: PINNED_DOCUMENT_VERSION,
    documentHash: config.documentHashes.push,
    instanceIds: deliveries.map((d) => d.node.instanceId),
    parametersFor: (batch) => ({
      ...commonParameters(ctx),
      Deliveries: [deliveriesValue(batch.map((id) => byId.get(id)).filter((d) => d !== undefined))],
      WaitSeconds: [String(waitSeconds)],
      // The push refuses to act after this, the moment the run stops waiting for unstarted
      // hosts and cancels them: a late pick-up can never write a file, or overwrite a newer one.
      NotAfter: [String(nowSeconds(ctx) + config.pickupSeconds + waitSeconds)],
    }),
    comment: commentFor(ctx, 'deliver'),
    expectedSeconds: waitSeconds,
    executionSeconds: waitSeconds + PUSH_OVERHEAD_SECONDS,
    giveUpAt: ctx.deadlineAt,
    giveUpReason: 'the push had not finished on the host when the run had to stop',
  });
  return deliveries.map((d) => ({
    node: d.node,
    components: judgePush(d, results.get(d.node.instanceId), nowSeconds(ctx), config),
  }));
}

/**
 * The push's Deliveries value (shared/host-protocol.ts encodes it). At most MAX_DELIVERIES_PER_PUSH
 * entries, one per host: the command runner's batches hold no more, and no host twice.
 */
export function deliveriesValue(deliveries: readonly SealedDelivery[]): string {
  return encodeDeliveries(
    deliveries.map((d) => ({ instanceId: d.node.instanceId, components: d.components, sealed: d.sealed })),
  );
}

function judgePush(
  delivery: SealedDelivery,
  result: InvocationResult | undefined,
  now: number,
  policy: Policy,
): ComponentReport[] {
  let outcomes: readonly PushOutcome[] | undefined;
  let problem = 'the push returned no result';
  if (result?.kind === 'output') {
    const parsed = parsePushOutput(result.output, delivery.components);
    if (parsed.ok) outcomes = parsed.value.outcomes;
    else problem = `the push output was not understood: ${parsed.problem}`;
  } else if (result) {
    problem = `the push ${result.kind === 'unreachable' ? 'could not be delivered' : 'failed'} (${result.detail})`;
  }
  return delivery.components.map((name): ComponentReport => {
    const outcome = outcomes?.find((o) => outcomeName(o) === name);
    if (!outcome) {
      return {
        name,
        status: result?.kind === 'unreachable' ? 'unreachable' : 'failed',
        reason: outcomes ? 'the push did not report on this component' : problem,
      };
    }
    const verdict = judgeDelivery(outcome, now, policy);
    const expires = isoFromEpochSeconds(verdict.expiresAt);
    return {
      name,
      status: verdict.status,
      ...(expires ? { tokenExpiresAt: expires } : {}),
      ...(verdict.reason ? { reason: verdict.reason } : {}),
      ...(verdict.restarted ? { restarted: true } : {}),
    };
  });
}
