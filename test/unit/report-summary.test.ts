import { describe, expect, it } from 'vitest';
import type { HostReport } from '../../lambda/report.ts';
import { totalsOf } from '../../lambda/report.ts';
import { abbreviateIds, summarize, withSummary } from '../../lambda/report-summary.ts';
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
  return runReport({ hosts, totals: totalsOf(hosts), ...overrides });
}

describe('summarize', () => {
  it('counts what is fine and names the component that needs a redeploy, as in the contract example', () => {
    const hosts = [
      ...Array.from({ length: 6 }, (_, i) => host(i + 1, 'healthy', 'healthy')),
      host(7, 'recovered', 'recovered'),
      host(8, 'recovered'),
      host(9, 'needs-redeploy'),
    ];
    expect(summarize(reportOf(hosts))).toBe('12 healthy, 3 recovered, 1 needs a redeploy (i-0a1b…/agent)');
  });

  it('lengthens abbreviated instance ids until the named ones read differently', () => {
    const hosts = [host(1, 'stuck'), host(2, 'stuck')];
    expect(summarize(reportOf(hosts))).toBe('2 stuck (i-0a1b2c3d4e5f60001/agent, i-0a1b2c3d4e5f60002/agent)');
    expect(summarize(reportOf([host(0x1001, 'stuck'), host(0x2001, 'stuck')]))).toBe(
      '2 stuck (i-0a1b2c3d4e5f61…/agent, i-0a1b2c3d4e5f62…/agent)',
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

  it('shortens only the ids it names, so an unnamed host cannot lengthen them', () => {
    // Prepare: the fourth failed host shares its first characters with the first, but is only counted
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
    expect(summary).toBe('4 failed (i-aaaa…/agent, i-bbbb…/agent, i-cccc…/agent, +1 more)');
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
      '1 stuck (i-9999…/agent), 3 unreadable (i-dddd…/agent, i-eeee…/agent, i-ffff…/agent), 3 failed (i-aaaa…/agent, i-bbbb…/agent, i-cccc…/agent)',
    );
  });

  it.each([
    [[host(1, 'needs-redeploy')], '1 needs a redeploy (i-0a1b…/agent)'],
    [
      [host(0x1001, 'needs-redeploy'), host(0x2001, 'needs-redeploy')],
      '2 need a redeploy (i-0a1b2c3d4e5f61…/agent, i-0a1b2c3d4e5f62…/agent)',
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

describe('abbreviateIds', () => {
  it('keeps ids too short to abbreviate whole', () => {
    expect(abbreviateIds(['mi-0123']).get('mi-0123')).toBe('mi-0123');
    expect(abbreviateIds(['i-0a1b2c3d4e5f60718']).get('i-0a1b2c3d4e5f60718')).toBe('i-0a1b…');
  });

  it('keeps an id whole when the ellipsis would stand for a single character', () => {
    expect(abbreviateIds(['i-0a1b2']).get('i-0a1b2')).toBe('i-0a1b2');
    expect(abbreviateIds(['i-0a1b23']).get('i-0a1b23')).toBe('i-0a1b…');
  });
});
