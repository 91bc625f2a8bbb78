/** A host's settled components: what the report says of them, decided once by one step. */
import { type ComponentName, componentsFor } from '../../shared/catalog.ts';
import type { Decision } from '../../shared/token-rules.ts';
import type { ManagedNode } from '../fleet-api.ts';
import { type ComponentReport, isoFromEpochSeconds } from '../report.ts';

export interface HostOutcome {
  readonly node: ManagedNode;
  readonly components: readonly ComponentReport[];
  /** Why the host as a whole could not be examined, when it could not. */
  readonly reason?: string;
}

/** Every catalog component of a host that could not be examined: which are installed is unknown. */
export function wholeHost(node: ManagedNode, status: 'unreachable' | 'failed', reason: string): HostOutcome {
  return {
    node,
    reason,
    components: componentsFor(node.platform).map((c) => ({ name: c.name, status, reason })),
  };
}

/** The same status and reason for some components of a host. */
export function someComponents(
  node: ManagedNode,
  names: readonly ComponentName[],
  status: 'failed' | 'unreachable',
  reason: string,
): HostOutcome {
  return { node, components: names.map((name) => ({ name, status, reason })) };
}

/** The report line of a component whose decision needs no delivery. */
export function reportOfDecision(
  name: ComponentName,
  decision: Decision & { action: 'none' },
): ComponentReport {
  const expires = isoFromEpochSeconds(decision.expiresAt);
  return {
    name,
    status: decision.status,
    ...(expires ? { tokenExpiresAt: expires } : {}),
    ...(decision.reason ? { reason: decision.reason } : {}),
  };
}
