/** The order hosts are sent commands in: fair from run to run, so no host is always left out. */
import { describe, expect, it } from 'vitest';
import { fairOrder, fnv1a, interpret } from '../../lambda/steps/document-runs.ts';
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

describe('interpret', () => {
  const parse = (output: string) =>
    output.endsWith('\nend\n')
      ? { ok: true as const, value: { output } }
      : { ok: false as const, problem: 'output is incomplete' };

  it.each([
    [
      { kind: 'output', succeeded: true, output: 'x' },
      'the probe output from this host was not understood: output is incomplete',
    ],
    [
      { kind: 'output', succeeded: false, output: 'x' },
      'the probe output from this host was not understood (the script failed): output is incomplete',
    ],
    [
      { kind: 'output', succeeded: false, output: 'x', timedOut: true },
      'the probe output from this host was not understood (the agent stopped the script at its timeout): output is incomplete',
    ],
  ] as const)('says why a report it cannot use is cut short: %j', (result, reason) => {
    expect(interpret(result, parse, 'probe')).toStrictEqual({ unusable: true, status: 'failed', reason });
  });

  it('takes a complete report whatever the exit', () => {
    const result = { kind: 'output', succeeded: false, output: 'a\nend\n' } as const;
    expect(interpret(result, parse, 'probe')).toStrictEqual({ output: 'a\nend\n' });
  });
});
