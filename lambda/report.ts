/** The run report: what each run returns and logs once (statuses: docs/operating.md "Runbook: what each status means and what to do"). */
import type { ComponentName, Platform } from '../shared/catalog.ts';
import { agentVersionAtLeast } from '../shared/limits.ts';
import type { ComponentStatus, KasmApiHealth } from '../shared/token-rules.ts';

export interface ComponentReport {
  readonly name: ComponentName;
  readonly status: ComponentStatus;
  readonly tokenExpiresAt?: string;
  readonly reason?: string;
  /** Windows: the service was restarted so the agent would read the file. */
  readonly restarted?: boolean;
}

export interface HostReport {
  readonly instanceId: string;
  readonly platform: Platform;
  readonly components: readonly ComponentReport[];
  /** Why the host could not be examined, when it could not. */
  readonly reason?: string;
  /**
   * Set when the host as a whole could not be examined (offline, no answer, left for the next
   * run): its components are then every catalog component with this status, since which are
   * installed is unknown, and they count once, as one host, in `hostTotals`, not in `totals`.
   */
  readonly status?: HostStatus;
  /**
   * The SSM Agent version SSM reports, where it matters: older than 3.3.2746.0 (MIN_AGENT_VERSION), or
   * not a version at all. Such an agent passes the documents' parameters only by splicing them into the
   * scripts; the version is where to look when such a host answers that it was given none.
   */
  readonly agentVersion?: string;
}

/** What happened to a host as a whole: examined, or settled without being asked anything. */
export type HostStatus = 'unreachable' | 'failed';

export interface RunReport {
  readonly ok: boolean;
  readonly dryRun: boolean;
  readonly runId: string;
  readonly trigger: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly kasmApi: KasmApiHealth;
  /** Components by status, of the hosts that were examined. */
  readonly totals: Partial<Record<ComponentStatus, number>>;
  /** Hosts: how many were examined, and how many could not be (`unreachable`, `failed`). */
  readonly hostTotals: Partial<Record<'examined' | HostStatus, number>>;
  readonly hosts: readonly HostReport[];
  readonly errors: readonly string[];
  /**
   * Started fleet instances SSM never listed while the run waited: no scheduled run can see them, so
   * their start notifications go back to the queue.
   */
  readonly notCheckedIn?: readonly string[];
  /** A scheduled run that found another run still at work on the whole fleet did nothing; why. */
  readonly skipped?: { readonly reason: string; readonly otherRunId: string };
}

/**
 * Components by status. A host that could not be examined adds nothing: its components are
 * only the catalog's guess, and one offline host must not read as four unreachable components.
 */
export function totalsOf(hosts: readonly HostReport[]): Partial<Record<ComponentStatus, number>> {
  const totals: Partial<Record<ComponentStatus, number>> = {};
  for (const host of hosts) {
    if (host.status) continue;
    for (const c of host.components) totals[c.status] = (totals[c.status] ?? 0) + 1;
  }
  return totals;
}

/** Hosts examined, and hosts settled as a whole by their status. */
export function hostTotalsOf(hosts: readonly HostReport[]): RunReport['hostTotals'] {
  const totals: Partial<Record<'examined' | HostStatus, number>> = {};
  for (const host of hosts) {
    const key = host.status ?? 'examined';
    totals[key] = (totals[key] ?? 0) + 1;
  }
  return totals;
}

export function isoFromEpochSeconds(seconds: number | undefined): string | undefined {
  if (seconds === undefined || !Number.isFinite(seconds)) return undefined;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** Hosts of the report from every step's settled outcomes: one entry per host, sorted. */
export function hostsOf(
  outcomes: readonly {
    readonly node: {
      readonly instanceId: string;
      readonly platform: Platform;
      readonly agentVersion?: string;
    };
    readonly components: readonly ComponentReport[];
    readonly reason?: string;
  }[],
): HostReport[] {
  const hosts = new Map<
    string,
    { platform: Platform; components: ComponentReport[]; reason?: string; agentVersion?: string }
  >();
  for (const { node, components, reason } of outcomes) {
    let host = hosts.get(node.instanceId);
    if (!host) {
      host = { platform: node.platform, components: [] };
      if (node.agentVersion && !agentVersionAtLeast(node.agentVersion)) host.agentVersion = node.agentVersion;
      hosts.set(node.instanceId, host);
    }
    host.components.push(...components);
    if (reason) host.reason = reason;
  }
  return [...hosts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([instanceId, { platform, components, reason, agentVersion }]) => {
      // Only a step that settles the whole host gives a host reason, with one status for all.
      const status = reason ? wholeHostStatus(components) : undefined;
      return {
        instanceId,
        platform,
        components: components.sort((a, b) => a.name.localeCompare(b.name)),
        ...(reason ? { reason } : {}),
        ...(status ? { status } : {}),
        ...(agentVersion ? { agentVersion } : {}),
      };
    });
}

function wholeHostStatus(components: readonly ComponentReport[]): HostStatus | undefined {
  const status = components[0]?.status;
  return (status === 'unreachable' || status === 'failed') && components.every((c) => c.status === status)
    ? status
    : undefined;
}
