import type { RunReport } from '../../lambda/report.ts';

/** A finished run's report; tests override what they are about. */
export function runReport(overrides: Partial<RunReport> = {}): RunReport {
  return {
    ok: true,
    dryRun: false,
    runId: 'r',
    trigger: 'schedule',
    startedAt: '2026-11-30T07:00:00.000Z',
    durationMs: 1,
    kasmApi: 'healthy',
    totals: {},
    hostTotals: {},
    hosts: [],
    errors: [],
    ...overrides,
  };
}
