/**
 * Step 3, plan: pure. From what the hosts showed (judged as of when the probe went out), the policy
 * and the run's circumstances (dry run, secret, API health), each component is either settled for
 * this run or planned for delivery. No I/O, no clock reads.
 */
import type { ComponentName, Platform } from '../../shared/catalog.ts';
import type { ProbeReport } from '../../shared/host-report.ts';
import {
  type ComponentStatus,
  cannotUnsealReason,
  decide,
  type KasmApiHealth,
  type Policy,
} from '../../shared/token-rules.ts';
import type { ManagedNode } from '../fleet-api.ts';
import { isoFromEpochSeconds } from '../report.ts';
import { type HostOutcome, reportOfDecision } from './host-outcome.ts';
import type { Observations } from './observe.ts';

export interface Circumstances {
  readonly policy: Policy;
  readonly dryRun: boolean;
  readonly secretUsable: boolean;
  readonly kasmApi: KasmApiHealth;
}

export interface PlannedDelivery {
  readonly node: ManagedNode;
  readonly components: readonly ComponentName[];
  /** What the probe showed of the host: its sealing key, if it made one. */
  readonly report: ProbeReport;
}

export interface Plan {
  readonly settled: readonly HostOutcome[];
  readonly deliveries: readonly PlannedDelivery[];
}

export function plan(observed: Observations, c: Circumstances): Plan {
  const settled: HostOutcome[] = [];
  const deliveries: PlannedDelivery[] = [];
  for (const { node, report } of observed.probed) {
    const components = [];
    const deliver: ComponentName[] = [];
    for (const sighting of report.components) {
      const decision = decide(sighting, observed.observedAt, c.policy);
      if (decision.action === 'none') {
        components.push(reportOfDecision(sighting.name, decision));
        continue;
      }
      const blocked = blockedDelivery(c, { platform: node.platform, canUnseal: report.canUnseal });
      if (!blocked) {
        deliver.push(sighting.name);
        continue;
      }
      const expires = isoFromEpochSeconds(decision.expiresAt);
      components.push({
        name: sighting.name,
        status: blocked.status,
        ...(expires ? { tokenExpiresAt: expires } : {}),
        reason: blocked.reason,
      });
    }
    // A host with nothing installed is still listed, with no components.
    if (components.length > 0 || deliver.length === 0) settled.push({ node, components });
    if (deliver.length > 0) deliveries.push({ node, components: deliver, report });
  }
  return { settled, deliveries };
}

/** Why a needed delivery is not made in this run, if it is not. */
export function blockedDelivery(
  c: Pick<Circumstances, 'dryRun' | 'secretUsable' | 'kasmApi'>,
  host: { readonly platform: Platform; readonly canUnseal: boolean },
): { status: ComponentStatus; reason: string } | undefined {
  // A dry run reports what a real run would do: an unhealthy API or an unusable secret blocks it too.
  if (c.kasmApi === 'unhealthy') {
    return {
      status: 'deferred',
      reason: 'the Kasm Admin API is unhealthy; delivery waits for a healthy API',
    };
  }
  if (!c.secretUsable)
    return { status: 'failed', reason: 'the registration token secret is unusable (see errors)' };
  if (!host.canUnseal) return { status: 'failed', reason: cannotUnsealReason(host.platform) };
  if (c.dryRun) {
    return {
      status: 'would-push',
      reason: 'token expired past the grace period; dry run, nothing delivered',
    };
  }
  return undefined;
}
