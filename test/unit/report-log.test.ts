import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../lambda/report.ts';
import { reportLogLines } from '../../lambda/report-log.ts';
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
});
