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

  it('mentions run errors of a run that still did its job', () => {
    expect(summarize(reportOf([host(1, 'healthy')], { errors: ['x'] }))).toBe('1 healthy; 1 run error');
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
});
