import { describe, expect, it } from 'vitest';
import { hostsOf, hostTotalsOf, isoFromEpochSeconds, totalsOf } from '../../lambda/report.ts';

const linux = (instanceId: string) => ({ instanceId, platform: 'Linux' as const });

describe('hostsOf', () => {
  it('gives one entry per host, sorted by instance id, with its components sorted by name', () => {
    // Prepare: outcomes as the steps settle them, in no particular order
    const outcomes = [
      {
        node: linux('i-0000000000000000b'),
        components: [{ name: 'guac' as const, status: 'healthy' as const }],
      },
      {
        node: linux('i-0000000000000000a'),
        components: [{ name: 'agent' as const, status: 'stuck' as const }],
      },
      {
        node: linux('i-0000000000000000b'),
        components: [
          { name: 'rdp_gateway' as const, status: 'recovered' as const },
          { name: 'agent' as const, status: 'healthy' as const },
        ],
      },
    ];

    // Act
    const hosts = hostsOf(outcomes);

    // Assess
    expect(hosts.map((h) => [h.instanceId, h.components.map((c) => c.name)])).toEqual([
      ['i-0000000000000000a', ['agent']],
      ['i-0000000000000000b', ['agent', 'guac', 'rdp_gateway']],
    ]);
  });

  it('keeps why a host could not be examined, even when another step settled more of it without a reason', () => {
    // Prepare
    const outcomes = [
      {
        node: linux('i-0000000000000000a'),
        components: [{ name: 'agent' as const, status: 'unreachable' as const }],
        reason: 'the host is offline (SSM PingStatus ConnectionLost)',
      },
      {
        node: linux('i-0000000000000000a'),
        components: [{ name: 'guac' as const, status: 'healthy' as const }],
      },
      {
        node: linux('i-0000000000000000c'),
        components: [{ name: 'agent' as const, status: 'healthy' as const }],
      },
    ];

    // Act
    const hosts = hostsOf(outcomes);

    // Assess
    expect(hosts[0]?.reason).toBe('the host is offline (SSM PingStatus ConnectionLost)');
    expect(hosts[1]).not.toHaveProperty('reason');
    // Partly examined after all: not a host settled as a whole.
    expect(hosts[0]).not.toHaveProperty('status');
  });

  it('marks a host settled as a whole with its status, and counts it as a host, not as components', () => {
    // Prepare: an offline host as inventory settles it (every catalog component), and an examined one
    const reason = 'the host is offline (SSM PingStatus ConnectionLost)';
    const outcomes = [
      {
        node: linux('i-0000000000000000a'),
        components: (['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const).map((name) => ({
          name,
          status: 'unreachable' as const,
          reason,
        })),
        reason,
      },
      {
        node: linux('i-0000000000000000b'),
        components: [{ name: 'agent' as const, status: 'healthy' as const }],
      },
    ];

    // Act
    const hosts = hostsOf(outcomes);

    // Assess
    expect(hosts[0]).toMatchObject({ status: 'unreachable', reason });
    expect(hosts[0]?.components).toHaveLength(4);
    expect(totalsOf(hosts)).toStrictEqual({ healthy: 1 });
    expect(hostTotalsOf(hosts)).toStrictEqual({ examined: 1, unreachable: 1 });
  });
});

describe('isoFromEpochSeconds', () => {
  it.each([
    [1_800_000_000, '2027-01-15T08:00:00.000Z'],
    [undefined, undefined],
    [Number.NaN, undefined],
    [Number.POSITIVE_INFINITY, undefined],
    [1e20, undefined],
  ])('turns %s into %s', (seconds, iso) => {
    expect(isoFromEpochSeconds(seconds)).toBe(iso);
  });
});
