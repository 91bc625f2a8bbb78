import { describe, expect, it } from 'vitest';
import type { HostReport } from '../../lambda/report.ts';
import { hostTotalsOf, totalsOf } from '../../lambda/report.ts';
import { summarize, withSummary } from '../../lambda/report-summary.ts';
import type { ComponentStatus } from '../../shared/token-rules.ts';
import { runReport } from './report-fixture.ts';

const ID = (n: number) => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;

function host(n: number, ...statuses: ComponentStatus[]): HostReport {
  const names = ['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const;
  return {
    instanceId: ID(n),
    platform: 'Linux',
    components: statuses.map((status, i) => ({ name: names[i % names.length] ?? 'agent', status })),
  };
}

function reportOf(hosts: HostReport[], overrides = {}) {
  return runReport({ hosts, totals: totalsOf(hosts), hostTotals: hostTotalsOf(hosts), ...overrides });
}

describe('summarize', () => {
  it('counts what is fine and names the component that needs a redeploy, as in the contract example', () => {
    const hosts = [
      ...Array.from({ length: 6 }, (_, i) => host(i + 1, 'healthy', 'healthy')),
      host(7, 'recovered', 'recovered'),
      host(8, 'recovered'),
      host(9, 'needs-redeploy'),
    ];
    expect(summarize(reportOf(hosts))).toBe(
      '12 healthy, 3 recovered, 1 needs a redeploy (i-0a1b2c3d4e5f60009/agent)',
    );
  });

  it('writes every instance id it names in full, so it can be pasted into a console or a ticket', () => {
    const hosts = [host(1, 'stuck'), host(2, 'stuck')];
    expect(summarize(reportOf(hosts))).toBe('2 stuck (i-0a1b2c3d4e5f60001/agent, i-0a1b2c3d4e5f60002/agent)');
  });

  it('counts an offline host once, as a host, and names it, instead of one unreachable per catalog component', () => {
    // Prepare: what inventory settles for an offline Linux host: every catalog component, one reason
    const reason = 'the host is offline (SSM PingStatus ConnectionLost)';
    const offline: HostReport = {
      ...host(8, 'unreachable', 'unreachable', 'unreachable', 'unreachable'),
      reason,
      status: 'unreachable',
    };
    const hosts = [host(1, 'healthy', 'healthy'), host(2, 'recovered'), offline];

    // Act
    const report = reportOf(hosts);

    // Assess
    expect(report.totals).toStrictEqual({ healthy: 2, recovered: 1 });
    expect(report.hostTotals).toStrictEqual({ examined: 2, unreachable: 1 });
    expect(summarize(report)).toBe('2 healthy, 1 recovered; 1 host unreachable (i-0a1b2c3d4e5f60008)');
  });

  it('names at most three hosts that failed or were unreachable as a whole, and says when no host was examined', () => {
    const whole = (n: number, status: 'failed' | 'unreachable'): HostReport => ({
      ...host(n, status, status),
      reason: 'why',
      status,
    });
    const hosts = [1, 2, 3, 4].map((n) => whole(n, 'unreachable'));
    expect(summarize(reportOf([...hosts, whole(5, 'failed')]))).toBe(
      '4 hosts unreachable (i-0a1b2c3d4e5f60001, i-0a1b2c3d4e5f60002, i-0a1b2c3d4e5f60003, +1 more), 1 host failed (i-0a1b2c3d4e5f60005)',
    );
  });

  it('names only the components of hosts examined one by one beside a host that failed as a whole', () => {
    // Prepare: host 1 failed as a whole (both its components failed); host 2's agent failed on its own
    const wholly: HostReport = { ...host(1, 'failed', 'failed'), reason: 'why', status: 'failed' };
    const hosts = [wholly, host(2, 'failed', 'healthy')];

    // Act
    const summary = summarize(reportOf(hosts));

    // Assess
    expect(summary).toBe(
      '1 healthy, 1 failed (i-0a1b2c3d4e5f60002/agent); 1 host failed (i-0a1b2c3d4e5f60001)',
    );
  });

  it('names at most three components per status and counts the rest', () => {
    const hosts = Array.from({ length: 5 }, (_, i) => host(i * 4096 + 1, 'failed'));
    const summary = summarize(reportOf(hosts));
    expect(summary).toMatch(/^5 failed \(i-\S+\/agent, i-\S+\/agent, i-\S+\/agent, \+2 more\)$/);
  });

  it('puts every status in a fixed reading order, with the ones that need a person last', () => {
    const hosts = [
      host(1, 'failed', 'unreadable', 'needs-redeploy', 'stuck'),
      host(2, 'unreachable', 'deferred', 'pending', 'in-grace'),
      host(3, 'recovered', 'healthy'),
    ];
    const order = summarize(reportOf(hosts))
      .split(/, (?=\d)/)
      .map((part) => part.replace(/^\d+ /, '').replace(/ \(.*$/, ''));
    expect(order).toEqual([
      'healthy',
      'in grace',
      'recovered',
      'pending',
      'deferred',
      'unreachable',
      'stuck',
      'needs a redeploy',
      'unreadable',
      'failed',
    ]);
  });

  it('names the first three components of a status and counts the rest', () => {
    // Prepare
    const failed = (instanceId: string): HostReport => ({
      instanceId,
      platform: 'Linux',
      components: [{ name: 'agent', status: 'failed' }],
    });
    const hosts = [
      'i-aaaa1000000000000',
      'i-bbbb1000000000000',
      'i-cccc1000000000000',
      'i-aaaa2000000000000',
    ];

    // Act
    const summary = summarize(reportOf(hosts.map(failed)));

    // Assess
    expect(summary).toBe(
      '4 failed (i-aaaa1000000000000/agent, i-bbbb1000000000000/agent, i-cccc1000000000000/agent, +1 more)',
    );
  });

  it('names each component under its own status only, however many of other statuses come before it', () => {
    // Prepare: three failed and three unreadable components ahead of the one stuck component
    const one = (letter: string, status: ComponentStatus): HostReport => ({
      instanceId: `i-${letter.repeat(4)}0000000000000`,
      platform: 'Linux',
      components: [{ name: 'agent', status }],
    });
    const hosts = [
      ...['a', 'b', 'c'].map((l) => one(l, 'failed')),
      ...['d', 'e', 'f'].map((l) => one(l, 'unreadable')),
      one('9', 'stuck'),
    ];

    // Act
    const summary = summarize(reportOf(hosts));

    // Assess
    expect(summary).toBe(
      '1 stuck (i-99990000000000000/agent), 3 unreadable (i-dddd0000000000000/agent, i-eeee0000000000000/agent, ' +
        'i-ffff0000000000000/agent), 3 failed (i-aaaa0000000000000/agent, i-bbbb0000000000000/agent, i-cccc0000000000000/agent)',
    );
  });

  it.each([
    [[host(1, 'needs-redeploy')], '1 needs a redeploy (i-0a1b2c3d4e5f60001/agent)'],
    [
      [host(0x1001, 'needs-redeploy'), host(0x2001, 'needs-redeploy')],
      '2 need a redeploy (i-0a1b2c3d4e5f61001/agent, i-0a1b2c3d4e5f62001/agent)',
    ],
    [[host(1), host(2)], '2 hosts, no Kasm components found'],
  ])('agrees in number: %#', (hosts, summary) => {
    expect(summarize(reportOf(hosts))).toBe(summary);
  });

  it('says a dry run is a dry run and what it would have delivered', () => {
    const hosts = [host(1, 'would-push', 'healthy'), host(2, 'would-push')];
    expect(summarize(reportOf(hosts, { dryRun: true }))).toBe('Dry run: 1 healthy, 2 would get a token');
  });

  it('leads with the first run error when the run could not do its job', () => {
    const report = reportOf([], { ok: false, errors: ['The secret kasm/x is unreadable.', 'Second.'] });
    expect(summarize(report)).toBe(
      'Run could not do its job: The secret kasm/x is unreadable. (+1 more errors); no fleet hosts to reconcile',
    );
  });

  it.each([
    [
      ['The secret kasm/x is unreadable.'],
      'Run could not do its job: The secret kasm/x is unreadable.; 1 healthy',
    ],
    [[], 'Run could not do its job: no reason given; 1 healthy'],
  ])('gives the reason of a failed run %j without a count of further errors', (errors, summary) => {
    expect(summarize(reportOf([host(1, 'healthy')], { ok: false, errors }))).toBe(summary);
  });

  it('mentions run errors of a run that still did its job', () => {
    expect(summarize(reportOf([host(1, 'healthy')], { errors: ['x'] }))).toBe('1 healthy; 1 run error');
    expect(summarize(reportOf([host(1, 'healthy')], { errors: ['x', 'y'] }))).toBe('1 healthy; 2 run errors');
  });

  it('says when there was nothing to reconcile', () => {
    expect(summarize(reportOf([]))).toBe('no fleet hosts to reconcile');
    expect(summarize(reportOf([host(1)]))).toBe('1 host, no Kasm components found');
  });
});

describe('withSummary', () => {
  it('puts summary first and keeps every other field of the report unchanged', () => {
    const report = reportOf([host(1, 'healthy')]);
    const summarized = withSummary(report);
    expect(Object.keys(summarized)[0]).toBe('summary');
    expect(JSON.stringify(summarized).startsWith('{"summary":"1 healthy",')).toBe(true);
    const { summary: _summary, ...rest } = summarized;
    expect(rest).toStrictEqual(report);
  });
});
