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
import { type Circumstances, plan } from './steps/plan.ts';
import { prepare } from './steps/prepare.ts';

export interface ReconcileDeps extends Omit<RunContext, 'scope' | 'secret' | 'kasmHealth'> {
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
  const scope = scopeOf(request);
  // A scheduled run that finds another still reconciling the whole fleet leaves the fleet to it.
  if (request.trigger === 'schedule') {
    const other = await fleetRunAtWork(deps);
    if (other) return skippedReport(request, deps, started, other);
  }
  const ctx = runContext(deps, scope);
  const errors: string[] = [];
  const notCheckedIn: string[] = [];
  let ok = true;

  // Each wave of hosts goes through a pass as soon as the inventory hands it over: started hosts
  // as their agents come online, not after the last one.
  const passes: Promise<HostOutcome[]>[] = [];
  const settled: HostOutcome[] = [];
  try {
    for await (const wave of inventory(request, ctx)) {
      settled.push(...wave.settled);
      errors.push(...wave.errors);
      notCheckedIn.push(...(wave.notCheckedIn ?? []));
      if (wave.online.length > 0) passes.push(pass(wave.online, ctx));
    }
  } catch (error) {
    ok = false;
    const left = passes.length > 0 ? 'hosts not listed by then were not reconciled' : 'nothing was done';
    errors.push(`Listing the managed nodes failed (${errorName(error)}); ${left}.`);
  }
  const secret = await ctx.secret;
  if (!secret.ok) {
    ok = false;
    errors.push(`${secret.problem} Nothing was delivered.`);
  }
  const health = await ctx.kasmHealth;
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
    ...(notCheckedIn.length > 0 ? { notCheckedIn } : {}),
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

/**
 * One pass over a wave of online hosts, read straight through: each step takes the previous step's
 * value and the run context.
 */
async function pass(nodes: readonly ManagedNode[], ctx: RunContext): Promise<HostOutcome[]> {
  const observed = await observe(nodes, ctx);
  const planned = plan(observed, await circumstances(ctx));
  const prepared = await prepare(planned, ctx);
  const delivered = await deliverAndConfirm(prepared, ctx);
  return [...observed.settled, ...planned.settled, ...prepared.settled, ...delivered];
}

/**
 * The run context: the dependencies, the run's scope, and the run-wide reads started at once,
 * concurrently with the inventory: the secret (registered for redaction the moment it is read, before
 * any step can log a word) and the Kasm Admin API's health.
 */
export function runContext(deps: ReconcileDeps, scope: RunScope): RunContext {
  const { readSecret, checkKasm, ...rest } = deps;
  const secret = readSecret().then((read) => {
    if (read.ok) registerSecret(read.token);
    return read;
  });
  const kasmHealth = checkKasm().catch(
    (error): KasmHealthResult => ({
      health: 'unhealthy',
      detail: `health check failed: ${errorName(error)}`,
    }),
  );
  return { ...rest, scope, secret, kasmHealth };
}

/** What the pure plan step needs of the run besides the observations. */
async function circumstances(ctx: RunContext): Promise<Omit<Circumstances, 'nowSeconds'>> {
  const [secret, health] = await Promise.all([ctx.secret, ctx.kasmHealth]);
  return {
    policy: ctx.config,
    dryRun: ctx.scope === 'dry-run',
    secretUsable: secret.ok,
    kasmApi: health.health,
  };
}

/** The report of a scheduled run that left the fleet to another run still at work on it. */
function skippedReport(
  request: ReconcileRequest,
  ctx: Pick<RunContext, 'runId' | 'now' | 'log'>,
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
