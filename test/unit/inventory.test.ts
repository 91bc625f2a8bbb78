/** The inventory step on its own: the waves of hosts it hands the rest of a run. */
import { describe, expect, it } from 'vitest';
import { type ReconcileDeps, runContext, scopeOf } from '../../lambda/reconcile.ts';
import { inventory, secondsToReconcileAWave, type Wave } from '../../lambda/steps/inventory.ts';
import { parseEvent, type ReconcileRequest } from '../../shared/event-schema.ts';
import { startBatch } from '../start-events.ts';
import { ID, loopSetup } from './loop-fixture.ts';

async function waves(event: unknown, deps: ReconcileDeps): Promise<Wave[]> {
  const request = parseEvent(event) as ReconcileRequest;
  const all: Wave[] = [];
  for await (const wave of inventory(request, runContext(deps, scopeOf(request)))) all.push(wave);
  return all;
}

const ids = (wave: Wave | undefined) => wave?.online.map((n) => n.instanceId);

describe('the inventory of a scheduled or direct run', () => {
  it('is one wave: the online fleet hosts, with the offline ones settled unreachable', async () => {
    // Prepare
    const { fleet, deps } = loopSetup();
    fleet.add(ID(1), { agent: {} });
    fleet.add(ID(2), { agent: {} }, { online: false });

    // Act
    const all = await waves({}, deps());

    // Assess
    expect(all).toHaveLength(1);
    expect(ids(all[0])).toStrictEqual([ID(1)]);
    expect(all[0]?.settled.map((s) => [s.node.instanceId, s.reason])).toStrictEqual([
      [ID(2), 'the host is offline (SSM PingStatus ConnectionLost)'],
    ]);
    expect(fleet.fleetListCalls).toBe(1);
  });
});

describe('the inventory of an instance-start run', () => {
  it('hands over the started fleet hosts a wave at a time as they check in, asking SSM about them alone', async () => {
    // Prepare: host 1 is online at once, host 2 checks in at the third look; host 3 is not in the fleet
    const { fleet, deps } = loopSetup();
    fleet.add(ID(1), { agent: {} });
    const late = fleet.add(ID(2), { agent: {} }, { listed: false });
    fleet.add(ID(3), { agent: {} }, { ec2Tagged: false });
    fleet.add(ID(4), { agent: {} });
    fleet.beforeListing = (calls) => {
      if (calls >= 3) late.listed = true;
    };

    // Act
    const all = await waves(startBatch([ID(1), ID(2), ID(3)]), deps());

    // Assess
    expect(all.map(ids)).toStrictEqual([[ID(1)], [ID(2)], []]);
    expect(fleet.fleetListCalls).toBe(0);
    expect(fleet.describedIds).toStrictEqual([[ID(1), ID(2)], [ID(2)], [ID(2)]]);
    expect(all.flatMap((w) => w.errors)).toStrictEqual([]);
  });

  it('settles a listed host whose agent never comes online, and names one SSM never lists', async () => {
    // Prepare
    const { fleet, deps } = loopSetup({ ONLINE_WAIT_SECONDS: '1' });
    fleet.add(ID(1), { agent: {} }, { online: false });
    fleet.add(ID(2), { agent: {} }, { listed: false });

    // Act
    const all = await waves(startBatch([ID(1), ID(2)]), deps());

    // Assess
    const last = all.at(-1);
    expect(last?.settled.map((s) => [s.node.instanceId, s.components.map((c) => c.status)])).toStrictEqual([
      [ID(1), ['unreachable', 'unreachable', 'unreachable', 'unreachable']],
    ]);
    expect(last?.settled[0]?.reason).toBe(
      'the host started but its SSM agent did not come online (PingStatus ConnectionLost) while the run waited',
    );
    expect(last?.errors).toStrictEqual([
      `1 started fleet instance(s) did not check in with SSM within 1 s; their start notifications go back to the queue to be tried again: ${ID(2)}.`,
    ]);
    // No scheduled run can see host 2 (SSM does not list it); host 1 it lists again.
    expect(last?.notCheckedIn).toStrictEqual([ID(2)]);
  });

  it('names no instance SSM never lists when EC2 could not say it is in the fleet', async () => {
    // Prepare: EC2's tag lookup fails, so the wait falls back to the fleet listing
    const { fleet, deps } = loopSetup({ ONLINE_WAIT_SECONDS: '1' });
    fleet.add(ID(2), { agent: {} }, { listed: false });
    fleet.taggedInstances = async () => Promise.reject(new Error('UnauthorizedOperation'));

    // Act
    const all = await waves(startBatch([ID(2)]), deps());

    // Assess
    expect(all.flatMap((w) => w.notCheckedIn ?? [])).toStrictEqual([]);
    expect(all.flatMap((w) => w.errors).join('\n')).not.toContain('did not check in');
  });

  it('stops waiting early enough for the last host to be probed and pushed before the deadline', async () => {
    // Prepare: ten minutes of wait allowed, but the run ends in 200 s, and a wave needs 145 s; each look
    // moves the clock a second
    const { config, fleet, deps } = loopSetup({ ONLINE_WAIT_SECONDS: '600' });
    fleet.add(ID(1), { agent: {} }, { listed: false });
    const start = Date.now();
    let clock = start;
    fleet.beforeListing = () => {
      clock += 1000;
    };

    // Act
    await waves(startBatch([ID(1)]), deps({ now: () => clock, deadlineAt: start + 200_000 }));

    // Assess
    expect(secondsToReconcileAWave({ config })).toBe(30 + 5 + 30 + 15 + 65);
    // Looked until 200 - 145 = 55 s from the start.
    expect(fleet.listCalls).toBe(55);
  });

  it('lists the fleet by its tag while it waits when EC2 cannot say which started instances carry it', async () => {
    // Prepare: without EC2's word, only the tag tells fleet members from other managed nodes
    const { fleet, deps } = loopSetup({ ONLINE_WAIT_SECONDS: '1' });
    fleet.add(ID(1), { agent: {} });
    fleet.taggedInstances = async () => Promise.reject(new Error('UnauthorizedOperation'));

    // Act
    const all = await waves(startBatch([ID(1), ID(2)]), deps());

    // Assess
    expect(all.map(ids)).toStrictEqual([[ID(1)], []]);
    expect(fleet.describedIds).toStrictEqual([]);
    expect(fleet.fleetListCalls).toBeGreaterThan(1);
    expect(all.at(-1)?.errors).toStrictEqual([]);
  });
});
