/** The run report: what each run returns and logs once (statuses: README.md "Runbook: what each status means and what to do"). */
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
   * The SSM Agent version SSM reports, where it matters: older than 3.3.2746.0 (MIN_AGENT_VERSION), or
   * not a version at all. Such an agent passes the documents' parameters only by splicing them into the
   * scripts; the version is where to look when such a host answers that it was given none.
   */
  readonly agentVersion?: string;
}

export interface RunReport {
  readonly ok: boolean;
  readonly dryRun: boolean;
  readonly runId: string;
  readonly trigger: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly kasmApi: KasmApiHealth;
  readonly totals: Partial<Record<ComponentStatus, number>>;
  readonly hosts: readonly HostReport[];
  readonly errors: readonly string[];
  /** A scheduled run that found another run still at work on the whole fleet did nothing; why. */
  readonly skipped?: { readonly reason: string; readonly otherRunId: string };
}

export function totalsOf(hosts: readonly HostReport[]): Partial<Record<ComponentStatus, number>> {
  const totals: Partial<Record<ComponentStatus, number>> = {};
  for (const host of hosts) for (const c of host.components) totals[c.status] = (totals[c.status] ?? 0) + 1;
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
    .map(([instanceId, { platform, components, reason, agentVersion }]) => ({
      instanceId,
      platform,
      components: components.sort((a, b) => a.name.localeCompare(b.name)),
      ...(reason ? { reason } : {}),
      ...(agentVersion ? { agentVersion } : {}),
    }));
}
