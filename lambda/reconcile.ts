/**
 * One reconcile pass, level-triggered: look at the fleet as it is, move each component one
 * step toward healthy, remember nothing. Each step takes the previous step's value:
 *
 *   inventory → observe → plan (pure) → prepare → deliver and confirm → report
 *
 * Every component is settled by exactly one step; the report is built once from them. An
 * instance-start run sends each wave of started hosts through the steps as soon as their
 * agents are online, so the first back are not kept waiting for the last.
 */
import type { ReconcileRequest } from '../shared/event-schema.ts';
import type { Policy } from '../shared/token-rules.ts';
import { errorName } from './aws/aws-call.ts';
import type { ManagedNode } from './fleet-api.ts';
import type { KasmHealthResult } from './kasm-health.ts';
import { registerSecret } from './redaction.ts';
import type { SecretRead } from './registration-secret.ts';
import { hostsOf, hostTotalsOf, type RunReport, totalsOf } from './report.ts';
import type { RunContext } from './steps/context.ts';
import { deliverAndConfirm } from './steps/deliver.ts';
import type { HostOutcome } from './steps/host-outcome.ts';
import { type Inventory, takeInventory } from './steps/inventory.ts';
import { observe } from './steps/observe.ts';
import { plan } from './steps/plan.ts';
import { prepare } from './steps/prepare.ts';

export interface ReconcileDeps extends RunContext {
  readonly readSecret: () => Promise<SecretRead>;
  readonly checkKasm: () => Promise<KasmHealthResult>;
}

/** Runs one reconcile pass and returns its report; throws only on programming errors. */
export async function reconcile(request: ReconcileRequest, deps: ReconcileDeps): Promise<RunReport> {
  const started = deps.now();
  const errors: string[] = [];
  let ok = true;
  const policy: Policy = {
    gracePeriodSeconds: deps.config.gracePeriodSeconds,
    stuckAfterSeconds: deps.config.stuckAfterSeconds,
  };

  // Independent reads first, concurrently: secret, API health, inventory.
  // Registered for redaction the moment it is read, before any pass can log a word.
  const secretRead = deps.readSecret().then((read) => {
    if (read.ok) registerSecret(read.token);
    return read;
  });
  const healthRead = deps.checkKasm().catch(
    (error): KasmHealthResult => ({
      health: 'unhealthy',
      detail: `health check failed: ${errorName(error)}`,
    }),
  );
  // One pass: observe → plan → prepare → deliver and confirm, for hosts the inventory handed over.
  const startRun = request.trigger === 'instance-start' && !request.dryRun;
  const pass = async (nodes: readonly ManagedNode[]): Promise<HostOutcome[]> => {
    const [secret, health] = await Promise.all([secretRead, healthRead]);
    const observed = await observe(nodes, deps, startRun);
    const planned = plan(observed.sightings, {
      nowSeconds: observed.observedAt,
      policy,
      dryRun: request.dryRun,
      secretUsable: secret.ok,
      kasmApi: health.health,
    });
    const prepared = secret.ok
      ? await prepare(
          planned.deliveries,
          secret.token,
          policy,
          deps,
          new Map(observed.sightings.map((s) => [s.node.instanceId, s.report])),
        )
      : { sealed: [], settled: [] };
    const delivered = await deliverAndConfirm(prepared.sealed, policy, deps);
    return [...observed.settled, ...planned.settled, ...prepared.settled, ...delivered];
  };

  // Started hosts go through a pass as soon as their agent is online, not after the last one.
  const passes: Promise<HostOutcome[]>[] = [];
  let inventory: Inventory = { reachable: [], settled: [], errors: [] };
  try {
    inventory = await takeInventory(
      request,
      deps,
      startRun ? (nodes) => passes.push(pass(nodes)) : undefined,
    );
  } catch (error) {
    ok = false;
    errors.push(`Listing the managed nodes failed (${errorName(error)}); nothing was done.`);
  }
  errors.push(...inventory.errors);
  const secret = await secretRead;
  if (!secret.ok) {
    ok = false;
    errors.push(`${secret.problem} Nothing was delivered.`);
  }
  const health = await healthRead;
  if (health.health === 'unhealthy') {
    errors.push(
      `The Kasm Admin API is unhealthy (${health.detail ?? 'no detail'}); deliveries are deferred.`,
    );
  }
  if (inventory.reachable.length > 0) passes.push(pass(inventory.reachable));
  const outcomes: HostOutcome[] = [...inventory.settled, ...(await Promise.all(passes)).flat()];
  const hosts = hostsOf(outcomes);
  const report: RunReport = {
    ok,
    dryRun: request.dryRun,
    runId: deps.runId,
    trigger: request.trigger,
    startedAt: new Date(started).toISOString(),
    durationMs: deps.now() - started,
    kasmApi: health.health,
    totals: totalsOf(hosts),
    hostTotals: hostTotalsOf(hosts),
    hosts,
    errors,
  };
  deps.log.info('run finished', {
    totals: report.totals,
    hostTotals: report.hostTotals,
    hosts: hosts.length,
    ok,
    durationMs: report.durationMs,
  });
  return report;
}
