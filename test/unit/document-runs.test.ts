/** The order hosts are sent commands in: fair from run to run, so no host is always left out. */
import { describe, expect, it } from 'vitest';
import { fairOrder, fnv1a } from '../../lambda/steps/document-runs.ts';
import { ID } from './loop-fixture.ts';

const hosts = [1, 2, 3, 4, 5].map((n) => ({ instanceId: ID(n) }));
const runIds = Array.from({ length: 40 }, (_, i) => `run-${i}`);
const order = (runId: string, nodes = hosts) => fairOrder(nodes, runId).map((n) => n.instanceId);

describe('fairOrder', () => {
  it('puts every host last in some run, so a run cut short by its deadline does not always skip the same one', () => {
    const last = new Set(runIds.map((runId) => order(runId).at(-1)));
    expect([...last].sort()).toStrictEqual(hosts.map((h) => h.instanceId));
  });

  it('gives the same order for a run however the hosts were listed', () => {
    for (const runId of runIds) {
      expect(order(runId, [...hosts].reverse())).toStrictEqual(order(runId));
    }
  });

  it('keeps every host exactly once and leaves the given list as it was', () => {
    const given = [...hosts];
    expect([...order('run-1')].sort()).toStrictEqual(hosts.map((h) => h.instanceId));
    expect(given).toStrictEqual(hosts);
  });
});

describe('fnv1a', () => {
  it('gives the published 32-bit FNV-1a test vectors', () => {
    // http://www.isthe.com/chongo/tech/comp/fnv/ (test vectors of FNV-1a, 32 bits)
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });
});
