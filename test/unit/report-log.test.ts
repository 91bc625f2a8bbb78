import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../lambda/report.ts';
import {
  ATTENTION_ACTIONS,
  attentionLogLines,
  progressLogger,
  reportLogLines,
} from '../../lambda/report-log.ts';
import { runReport } from './report-fixture.ts';

function report(hostCount: number): RunReport {
  return runReport({
    totals: { healthy: hostCount },
    hosts: Array.from({ length: hostCount }, (_, i) => ({
      instanceId: `i-${i.toString(16).padStart(17, '0')}`,
      platform: 'Linux' as const,
      components: [
        { name: 'agent' as const, status: 'healthy' as const, tokenExpiresAt: '2026-11-30T08:00:00.000Z' },
      ],
    })),
  });
}

describe('reportLogLines', () => {
  it('logs a report that fits as one line', () => {
    expect(reportLogLines(report(3))).toEqual([{ message: 'run report', report: report(3) }]);
  });

  it('splits a large report into a head line and host parts that each fit, losing no host', () => {
    const big = report(500);
    const lines = reportLogLines(big, 20_000);
    expect(lines[0]).toMatchObject({ message: 'run report', report: { ok: true, totals: { healthy: 500 } } });
    expect(lines[0] && 'report' in lines[0] && 'hosts' in lines[0].report).toBe(false);
    const parts = lines.slice(1);
    expect(parts.length).toBeGreaterThan(1);
    for (const line of lines) expect(JSON.stringify(line).length).toBeLessThanOrEqual(20_000 + 200);
    const hosts = parts.flatMap((p) => ('hosts' in p ? p.hosts : []));
    expect(hosts).toEqual(big.hosts);
  });

  it('keeps a report exactly at the limit on one line', () => {
    const fits = report(3);
    expect(reportLogLines(fits, JSON.stringify(fits).length)).toHaveLength(1);
    expect(reportLogLines(fits, JSON.stringify(fits).length - 1)).toHaveLength(2);
  });

  it('fills each host part up to the limit before starting the next, numbering the parts', () => {
    // Prepare: room for exactly two hosts a part (each host counts its JSON and a comma)
    const big = report(5);
    const hostChars = JSON.stringify(big.hosts[0]).length + 1;

    // Act
    const lines = reportLogLines(big, 2 * hostChars);

    // Assess
    expect(lines[0]).toMatchObject({ message: 'run report', report: { hostParts: 3 } });
    expect(
      lines.slice(1).map((l) => ('hosts' in l ? [l.message, l.part, l.of, l.hosts.length] : [])),
    ).toEqual([
      ['run report hosts', 1, 3, 2],
      ['run report hosts', 2, 3, 2],
      ['run report hosts', 3, 3, 1],
    ]);
  });

  it('gives a host larger than the limit a part of its own, with no empty part', () => {
    const big = report(2);
    const lines = reportLogLines(big, 10);
    expect(lines.slice(1).map((l) => ('hosts' in l ? l.hosts : []))).toEqual([
      [big.hosts[0]],
      [big.hosts[1]],
    ]);
  });
});

describe('attentionLogLines', () => {
  it('gives every component that needs a person one line saying what to do, and nothing for the rest', () => {
    const hosts = [
      {
        instanceId: 'i-1',
        platform: 'Linux' as const,
        components: (['healthy', 'stuck', 'needs-redeploy', 'unreachable'] as const).map((status, i) => ({
          name: (['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const)[i] ?? 'agent',
          status,
        })),
      },
      {
        instanceId: 'i-2',
        platform: 'Windows' as const,
        components: [
          { name: 'windows' as const, status: 'failed' as const, reason: 'the push step exited 3' },
        ],
      },
      {
        instanceId: 'i-3',
        platform: 'Linux' as const,
        components: [{ name: 'agent' as const, status: 'unreadable' as const }],
      },
    ];
    const lines = attentionLogLines(runReport({ hosts }));
    expect(lines.map((l) => ('status' in l ? `${l.instanceId}/${l.component}:${l.status}` : ''))).toEqual([
      'i-1/guac:stuck',
      'i-1/rdp_gateway:needs-redeploy',
      'i-2/windows:failed',
      'i-3/agent:unreadable',
    ]);
    for (const line of lines) {
      expect(line.message).toBe('needs attention');
      if ('status' in line) expect(line.action).toBe(ATTENTION_ACTIONS[line.status]);
    }
    expect(lines[2]).toMatchObject({ platform: 'Windows', reason: 'the push step exited 3' });
  });

  it('gives a host that failed as a whole one line, not one per catalog component', () => {
    const reason = 'the SSM Agent passed the document no parameters at all: update the agent';
    const hosts = [
      {
        instanceId: 'i-0a1b2c3d4e5f60001',
        platform: 'Linux' as const,
        reason,
        status: 'failed' as const,
        components: (['agent', 'guac'] as const).map((name) => ({ name, status: 'failed' as const, reason })),
      },
    ];
    expect(attentionLogLines(runReport({ hosts }))).toStrictEqual([
      {
        message: 'needs attention',
        instanceId: 'i-0a1b2c3d4e5f60001',
        platform: 'Linux',
        component: 'all',
        status: 'failed',
        reason,
        action: ATTENTION_ACTIONS.failed,
      },
    ]);
  });

  it('caps the lines of a fleet-wide failure and counts the rest in one closing line', () => {
    const hosts = Array.from({ length: 7 }, (_, i) => ({
      instanceId: `i-${i}`,
      platform: 'Linux' as const,
      components: [{ name: 'agent' as const, status: 'failed' as const }],
    }));
    const lines = attentionLogLines(runReport({ hosts }), 5);
    expect(lines).toHaveLength(6);
    expect(lines[5]).toEqual({
      message: 'needs attention (more)',
      notListed: 2,
      action: 'Read the run report (npm run ops -- last-run) for the components not listed here.',
    });
  });
});

describe('progressLogger', () => {
  it('reports a step with no nodes to run as all done', () => {
    const logged: object[] = [];
    const progress = progressLogger({ info: (_, extra) => logged.push(extra ?? {}) }, () => 0);
    progress({ step: 'push', batchesDone: 0, batches: 0, nodesDone: 0, nodes: 0 });
    expect(logged).toEqual([expect.objectContaining({ percent: 100 })]);
  });

  it('logs each finished batch with its counts, the share done and the time since the step began', () => {
    const logged: [string, object | undefined][] = [];
    let clock = 1000;
    const progress = progressLogger({ info: (message, extra) => logged.push([message, extra]) }, () => clock);
    clock = 3500;
    progress({ step: 'probe', batchesDone: 1, batches: 4, nodesDone: 50, nodes: 180 });
    expect(logged).toEqual([
      [
        'progress',
        {
          step: 'probe',
          batchesDone: 1,
          batches: 4,
          nodesDone: 50,
          nodes: 180,
          percent: 27,
          elapsedMs: 2500,
        },
      ],
    ]);
  });
});
