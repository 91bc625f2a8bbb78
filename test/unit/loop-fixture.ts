/**
 * What every test of the reconcile loop starts from: settings for fast polling, an in-memory
 * fleet, the dependencies `reconcile` takes (each overridable), and helpers to run an event
 * and find a component in the report.
 */
import type { ManagedNode } from '../../lambda/fleet-api.ts';
import { type ReconcileDeps, reconcile, runContext } from '../../lambda/reconcile.ts';
import type { RunReport } from '../../lambda/report.ts';
import type { RunContext } from '../../lambda/steps/context.ts';
import { readConfig } from '../../shared/config.ts';
import { parseEvent, type ReconcileRequest } from '../../shared/event-schema.ts';
import { InMemoryFleet } from './in-memory-fleet.ts';

export const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';
export const DOCUMENTS = { probe: 'Probe-doc', push: 'Push-doc' };
export const ID = (n: number) => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;

/** Host n as the inventory hands it to the steps: Linux, online, its agent new enough. */
export const linuxNode = (n: number): ManagedNode => ({
  instanceId: ID(n),
  platform: 'Linux',
  online: true,
  pingStatus: 'Online',
  agentVersion: '3.3.2746.0',
});

/** A fleet and the loop's dependencies; `env` overrides the function's settings. */
export function loopSetup(env: Record<string, string> = {}) {
  const config = readConfig({
    REGISTRATION_TOKEN_SECRET_ID: 'kasm/token',
    PROBE_DOCUMENT_NAME: DOCUMENTS.probe,
    PUSH_DOCUMENT_NAME: DOCUMENTS.push,
    PROBE_DOCUMENT_HASH: 'a'.repeat(64),
    PUSH_DOCUMENT_HASH: 'b'.repeat(64),
    KASM_GRACE_PERIOD_SECONDS: '60',
    ONLINE_WAIT_SECONDS: '5',
    COMMAND_POLL_INTERVAL_MS: '50',
    ...env,
  });
  const fleet = new InMemoryFleet(DOCUMENTS);
  const logs: string[] = [];
  const deps = (overrides: Partial<ReconcileDeps> = {}): ReconcileDeps => ({
    config,
    fleet,
    runId: 'run-1',
    now: Date.now,
    deadlineAt: Date.now() + 10 * 60_000,
    log: {
      info: (m, e) => logs.push(`${m} ${JSON.stringify(e ?? {})}`),
      warn: (m, e) => logs.push(`${m} ${JSON.stringify(e ?? {})}`),
    },
    readSecret: async () => ({ ok: true, token: TOKEN }),
    checkKasm: async () => ({ health: 'healthy' }),
    ...overrides,
  });
  /** What a step gets: the dependencies and the scope of a full run. */
  const ctx = (overrides: Partial<ReconcileDeps> = {}): RunContext => runContext(deps(overrides), 'fleet');
  const expired = () => fleet.nowSeconds() - 3600;
  return { config, fleet, deps, ctx, expired, logs };
}

/** One run of the loop for an event as the handler receives it. */
export const run = (event: unknown, deps: ReconcileDeps): Promise<RunReport> =>
  reconcile(parseEvent(event) as ReconcileRequest, deps);

export function componentOf(report: RunReport, id: string, name: string) {
  return report.hosts.find((h) => h.instanceId === id)?.components.find((c) => c.name === name);
}
