/**
 * Step 1, inventory: which fleet hosts this run covers, and which of them can be asked
 * anything. Offline hosts are settled here. An SSM Agent of any version is asked: one before
 * 3.3.2746.0 sets no SSM_ variables but splices the parameters into the scripts, which take
 * them from there (shared/documents/README.md); one that truly passes nothing answers
 * `host error=missing-parameters`, which the observe step reports.
 */
import type { ReconcileRequest } from '../../shared/event-schema.ts';
import { errorName } from '../aws/aws-call.ts';
import type { FleetListing, ManagedNode } from '../fleet-api.ts';
import type { RunContext } from './context.ts';
import { type HostOutcome, wholeHost } from './host-outcome.ts';

export interface Inventory {
  /** Online hosts. */
  readonly reachable: readonly ManagedNode[];
  readonly settled: readonly HostOutcome[];
  readonly errors: readonly string[];
}

/**
 * Throws only when the fleet cannot be listed at all. `onReady`, for instance-start runs:
 * started hosts are handed over as soon as their agent is online, wave by wave, instead of
 * after the last one checked in; they are then not in `reachable`.
 */
export async function takeInventory(
  request: ReconcileRequest,
  ctx: RunContext,
  onReady?: (nodes: readonly ManagedNode[]) => void,
): Promise<Inventory> {
  const errors: string[] = [];
  let listing: FleetListing;
  let nodes: readonly ManagedNode[];
  const handedOver = new Set<string>();
  const ready = onReady
    ? (online: readonly ManagedNode[]) => {
        const fresh = online.filter((n) => !handedOver.has(n.instanceId));
        for (const n of fresh) handedOver.add(n.instanceId);
        if (fresh.length > 0) onReady(fresh);
      }
    : undefined;
  if (request.trigger === 'instance-start' && request.instanceIds) {
    ({ listing, nodes } = await startedFleetMembers(request.instanceIds, ctx, errors, ready));
  } else {
    listing = await ctx.fleet.listFleet();
    nodes = listing.nodes;
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
  }
  const chosen = new Set(nodes.map((n) => n.instanceId));
  for (const id of listing.unsupported) {
    if (request.instanceIds && !request.instanceIds.includes(id)) continue;
    errors.push(
      `${id} carries the fleet tag but runs a platform other than Linux or Windows; it was skipped.`,
    );
  }

  const reachable: ManagedNode[] = [];
  const settled: HostOutcome[] = [];
  for (const node of nodes) {
    if (!chosen.has(node.instanceId) || handedOver.has(node.instanceId)) continue;
    if (!node.online) {
      settled.push(wholeHost(node, 'unreachable', `the host is offline (SSM PingStatus ${node.pingStatus})`));
    } else {
      reachable.push(node);
    }
  }
  ctx.log.info('inventory', { hosts: nodes.length, reachable: reachable.length });
  return { reachable, settled, errors };
}

/**
 * Start events name every instance started in the account and carry no tags, and SSM lists
 * a started instance only once its agent checks in. EC2's own tags say which started
 * instances are fleet members; only those are waited for (bounded), the rest cost nothing.
 */
async function startedFleetMembers(
  started: readonly string[],
  ctx: RunContext,
  errors: string[],
  ready?: (online: readonly ManagedNode[]) => void,
): Promise<{ listing: FleetListing; nodes: readonly ManagedNode[] }> {
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
  const awaited = started.filter((id) => members === undefined || members.has(id));
  let listing = await ctx.fleet.listFleet();
  if (awaited.length === 0) return { listing, nodes: [] };

  const { config } = ctx;
  const waitUntil = Math.min(ctx.now() + config.onlineWaitSeconds * 1000, ctx.deadlineAt);
  const step = config.pollIntervalMs;
  const online = () => new Set(listing.nodes.filter((n) => n.online).map((n) => n.instanceId));
  const handOver = () => ready?.(pick(listing, awaited).filter((n) => n.online));
  let waiting = awaited.filter((id) => !online().has(id));
  handOver();
  while (waiting.length > 0 && ctx.now() + step <= waitUntil) {
    await new Promise((resolve) => setTimeout(resolve, step));
    listing = await ctx.fleet.listFleet();
    const up = online();
    waiting = waiting.filter((id) => !up.has(id));
    handOver();
  }
  // Without EC2's word, an instance that never showed up is most likely outside the fleet.
  const neverListed = missingIds(listing, awaited);
  if (members !== undefined && neverListed.length > 0) {
    errors.push(
      `${neverListed.length} started fleet instance(s) did not check in with SSM within ` +
        `${config.onlineWaitSeconds} s; the next scheduled run reconciles them: ${listOf(neverListed)}`,
    );
  }
  return { listing, nodes: pick(listing, awaited) };
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
