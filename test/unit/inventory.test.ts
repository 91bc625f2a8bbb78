/** The inventory step on its own, as a caller that takes started hosts all at once uses it. */
import { describe, expect, it } from 'vitest';
import { takeInventory } from '../../lambda/steps/inventory.ts';
import { parseEvent, type ReconcileRequest } from '../../shared/event-schema.ts';
import { startBatch } from '../start-events.ts';
import { ID, loopSetup } from './loop-fixture.ts';

describe('takeInventory', () => {
  it('returns the started hosts as reachable when nobody takes them wave by wave', async () => {
    const { fleet, deps } = loopSetup();
    fleet.add(ID(1), { agent: {} });
    fleet.add(ID(2), { agent: {} });
    const request = parseEvent(startBatch([ID(1)])) as ReconcileRequest;
    const inventory = await takeInventory(request, deps());
    expect(inventory.reachable.map((n) => n.instanceId)).toStrictEqual([ID(1)]);
    expect(inventory).toMatchObject({ settled: [], errors: [] });
  });
});
