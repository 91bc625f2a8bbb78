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
import type { RunScope } from './command-comment.ts';
import type { ManagedNode } from './fleet-api.ts';
import type { KasmHealthResult } from './kasm-health.ts';
import { registerSecret } from './redaction.ts';
import type { SecretRead } from './registration-secret.ts';
import { hostsOf, hostTotalsOf, type RunReport, totalsOf } from './report.ts';
import type { RunContext } from './steps/context.ts';
import { deliverAndConfirm } from './steps/deliver.ts';
import type { HostOutcome } from './steps/host-outcome.ts';
import { inventory } from './steps/inventory.ts';
import { observe } from './steps/observe.ts';
import { fleetRunAtWork, type RunAtWork } from './steps/other-runs.ts';
import { plan } from './steps/plan.ts';
import { prepare } from './steps/prepare.ts';

export interface ReconcileDeps extends Omit<RunContext, 'scope'> {
  readonly readSecret: () => Promise<SecretRead>;
  readonly checkKasm: () => Promise<KasmHealthResult>;
}

/** What a run covers, as its commands tell other runs. */
export function scopeOf(request: ReconcileRequest): RunScope {
  if (request.dryRun) return 'dry-run';
  return request.instanceIds === undefined ? 'fleet' : 'hosts';
}

/** Runs one reconcile pass and returns its report; throws only on programming errors. */
export async function reconcile(request: ReconcileRequest, deps: ReconcileDeps): Promise<RunReport> {
  const started = deps.now();
  const ctx: RunContext = { ...deps, scope: scopeOf(request) };
  // A scheduled run that finds another still reconciling the whole fleet leaves the fleet to it.
  if (request.trigger === 'schedule') {
    const other = await fleetRunAtWork(ctx);
    if (other) return skippedReport(request, ctx, started, other);
  }
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
    const observed = await observe(nodes, ctx, startRun);
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
          ctx,
          new Map(observed.sightings.map((s) => [s.node.instanceId, s.report])),
        )
      : { sealed: [], settled: [] };
    const delivered = await deliverAndConfirm(prepared.sealed, policy, ctx);
    return [...observed.settled, ...planned.settled, ...prepared.settled, ...delivered];
  };

  // Each wave of hosts goes through a pass as soon as the inventory hands it over: started hosts
  // as their agents come online, not after the last one.
  const passes: Promise<HostOutcome[]>[] = [];
  const settled: HostOutcome[] = [];
  try {
    for await (const wave of inventory(request, ctx)) {
      settled.push(...wave.settled);
      errors.push(...wave.errors);
      if (wave.online.length > 0) passes.push(pass(wave.online));
    }
  } catch (error) {
    ok = false;
    const left = passes.length > 0 ? 'hosts not listed by then were not reconciled' : 'nothing was done';
    errors.push(`Listing the managed nodes failed (${errorName(error)}); ${left}.`);
  }
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
  const outcomes: HostOutcome[] = [...settled, ...(await Promise.all(passes)).flat()];
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

/** The report of a scheduled run that left the fleet to another run still at work on it. */
function skippedReport(
  request: ReconcileRequest,
  ctx: RunContext,
  started: number,
  other: RunAtWork,
): RunReport {
  const since = new Date(other.sentAt).toISOString();
  const reason =
    `run ${other.runId} is still reconciling the whole fleet (its ${other.step} step, a command sent at ${since}); ` +
    'this scheduled run changed nothing and the next one covers the fleet';
  ctx.log.info('run skipped', { otherRunId: other.runId, otherStep: other.step });
  return {
    ok: true,
    dryRun: request.dryRun,
    runId: ctx.runId,
    trigger: request.trigger,
    startedAt: new Date(started).toISOString(),
    durationMs: ctx.now() - started,
    kasmApi: 'unchecked',
    totals: {},
    hostTotals: {},
    hosts: [],
    errors: [],
    skipped: { reason, otherRunId: other.runId },
  };
}
