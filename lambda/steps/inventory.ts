/**
 * Step 1, inventory: which fleet hosts this run covers, as waves of online hosts. A scheduled or
 * direct run has one wave: the fleet (or the named hosts) as SSM lists it now. An instance-start
 * run has one wave each time some of its started fleet hosts check in, so the first back are not
 * kept waiting for the last. Offline hosts are settled here.
 *
 * An SSM Agent of any version is asked: one before 3.3.2746.0 sets no SSM_ variables but splices
 * the parameters into the scripts, which take them from there (shared/documents/README.md); one
 * that truly passes nothing answers `host error=missing-parameters`, which the observe step reports.
 */
import type { ReconcileRequest } from '../../shared/event-schema.ts';
import { errorName } from '../aws/aws-call.ts';
import type { FleetListing, ManagedNode } from '../fleet-api.ts';
import type { RunContext } from './context.ts';
import { PUSH_OVERHEAD_SECONDS } from './deliver.ts';
import { type HostOutcome, wholeHost } from './host-outcome.ts';
import { PROBE_EXPECTED_SECONDS } from './observe.ts';

/** Hosts handed to the rest of the run together, and what the inventory settled or noticed meanwhile. */
export interface Wave {
  /** Online hosts: the rest of the run observes them. */
  readonly online: readonly ManagedNode[];
  readonly settled: readonly HostOutcome[];
  readonly errors: readonly string[];
  /** Started fleet instances SSM never listed while the run waited (instance-start runs only). */
  readonly notCheckedIn?: readonly string[];
}

/** The run's hosts, wave by wave; throws only when the fleet cannot be listed at all. */
export function inventory(request: ReconcileRequest, ctx: RunContext): AsyncIterable<Wave> {
  if (request.trigger === 'instance-start' && request.instanceIds) {
    return startedHosts(request.instanceIds, ctx);
  }
  return once(listedHosts(request, ctx));
}

async function* once(wave: Promise<Wave>): AsyncIterable<Wave> {
  yield await wave;
}

/** The fleet by its tag, or the named hosts picked from it. */
async function listedHosts(request: ReconcileRequest, ctx: RunContext): Promise<Wave> {
  const errors: string[] = [];
  const listing = await ctx.fleet.listFleet();
  let nodes = listing.nodes;
  if (request.instanceIds) {
    nodes = pick(listing, request.instanceIds);
    const missing = missingIds(listing, request.instanceIds);
    if (missing.length > 0) {
      const { key, value } = ctx.config.fleetTag;
      errors.push(
        `${missing.length} requested instance(s) are not SSM managed nodes carrying the fleet tag ${key}=${value}` +
          ` (or are stopped), so they were not touched: ${listOf(missing)}`,
      );
    }
  }
  const named = request.instanceIds;
  errors.push(...unsupported(listing.unsupported.filter((id) => !named || named.includes(id))));
  const wave = splitByPing(nodes);
  ctx.log.info('inventory', { hosts: nodes.length, reachable: wave.online.length });
  return { ...wave, errors };
}

/**
 * Start events name every instance started in the account and carry no tags, and SSM lists a started
 * instance only once its agent checks in. EC2's own tags say which started instances are fleet members;
 * only those are waited for, each as long as booting takes (`ONLINE_WAIT_SECONDS`, bounded by the time
 * the run needs afterwards), by asking SSM about them alone: the wait costs the same on any fleet size.
 */
async function* startedHosts(started: readonly string[], ctx: RunContext): AsyncIterable<Wave> {
  const errors: string[] = [];
  let members: ReadonlySet<string> | undefined;
  try {
    members = await ctx.fleet.taggedInstances(started);
  } catch (error) {
    ctx.log.warn('asking EC2 for the fleet tag of started instances failed', { error: errorName(error) });
    errors.push(
      `EC2 could not say which started instances carry the fleet tag (${errorName(error)}); ` +
        'every started instance was waited for.',
    );
  }
  const waiting = new Set(started.filter((id) => members === undefined || members.has(id)));
  // Without EC2's word, only the fleet listing by tag can tell members from the rest.
  const look = (ids: readonly string[]) =>
    members === undefined ? ctx.fleet.listFleet() : ctx.fleet.describeNodes(ids);
  ctx.log.info('inventory', { started: started.length, awaited: waiting.size });
  const { config } = ctx;
  const waitUntil = Math.min(
    ctx.now() + config.onlineWaitSeconds * 1000,
    ctx.deadlineAt - secondsToReconcileAWave(ctx) * 1000,
  );
  let listing: FleetListing = { nodes: [], unsupported: [] };
  for (;;) {
    listing = waiting.size > 0 ? await look([...waiting]) : listing;
    const online = listing.nodes.filter((n) => n.online && waiting.has(n.instanceId));
    for (const n of online) waiting.delete(n.instanceId);
    const skipped = listing.unsupported.filter((id) => waiting.delete(id));
    const wave = { online, settled: [], errors: [...errors.splice(0), ...unsupported(skipped)] };
    if (wave.online.length > 0 || wave.errors.length > 0) yield wave;
    if (waiting.size === 0 || ctx.now() + config.pollIntervalMs > waitUntil) break;
    await new Promise((resolve) => setTimeout(resolve, config.pollIntervalMs));
  }
  yield neverOnline(listing, waiting, members !== undefined, ctx);
}

/**
 * Started fleet hosts still not online when the wait ended: a host SSM lists (ConnectionLost) is reported
 * unreachable like any offline host, and the next scheduled run lists it again. One SSM does not list at
 * all no scheduled run can see, so it is named and its start notification goes back to the queue: a later
 * run waits for it again, and after the queue's last try its dead-letter alarm asks for a person. Without
 * EC2's word, an instance that never showed up is most likely outside the fleet, so it is not named.
 */
function neverOnline(
  listing: FleetListing,
  waiting: ReadonlySet<string>,
  confirmedMembers: boolean,
  ctx: RunContext,
): Wave {
  const seconds = ctx.config.onlineWaitSeconds;
  const listed = listing.nodes.filter((n) => waiting.has(n.instanceId));
  const settled = listed.map((n) =>
    wholeHost(
      n,
      'unreachable',
      `the host started but its SSM agent did not come online (PingStatus ${n.pingStatus}) while the run waited`,
    ),
  );
  const unlisted = [...waiting].filter((id) => !listed.some((n) => n.instanceId === id));
  if (!confirmedMembers || unlisted.length === 0) return { online: [], settled, errors: [] };
  const errors = [
    `${unlisted.length} started fleet instance(s) did not check in with SSM within ${seconds} s; ` +
      `their start notifications go back to the queue to be tried again: ${listOf(unlisted)}`,
  ];
  return { online: [], settled, errors, notCheckedIn: unlisted };
}

/**
 * What the run needs once a started host is online, so the wait leaves it that much: the probe (which
 * makes the sealing key on started hosts) and the push with its wait on the host, each picked up first.
 */
export function secondsToReconcileAWave(ctx: Pick<RunContext, 'config'>): number {
  const { pickupSeconds, confirmWaitSeconds } = ctx.config;
  return pickupSeconds + PROBE_EXPECTED_SECONDS + pickupSeconds + PUSH_OVERHEAD_SECONDS + confirmWaitSeconds;
}

function splitByPing(nodes: readonly ManagedNode[]): Pick<Wave, 'online' | 'settled'> {
  const online: ManagedNode[] = [];
  const settled: HostOutcome[] = [];
  for (const node of nodes) {
    if (node.online) online.push(node);
    else
      settled.push(wholeHost(node, 'unreachable', `the host is offline (SSM PingStatus ${node.pingStatus})`));
  }
  return { online, settled };
}

function unsupported(ids: readonly string[]): string[] {
  return ids.map(
    (id) => `${id} carries the fleet tag but runs a platform other than Linux or Windows; it was skipped.`,
  );
}

function pick(listing: FleetListing, ids: readonly string[]): ManagedNode[] {
  const wanted = new Set(ids);
  return listing.nodes.filter((n) => wanted.has(n.instanceId));
}

function missingIds(listing: FleetListing, ids: readonly string[]): string[] {
  const found = new Set([...listing.nodes.map((n) => n.instanceId), ...listing.unsupported]);
  return ids.filter((id) => !found.has(id));
}

function listOf(ids: readonly string[]): string {
  return `${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ', …' : '.'}`;
}
