import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../lambda/report.ts';
import { runMetrics } from '../../lambda/run-metrics.ts';
import { runReport } from './report-fixture.ts';

const report = (totals: RunReport['totals'], ok = true): RunReport => runReport({ totals, ok });

describe('runMetrics', () => {
  it('sums the statuses a person must act on into NeedingAttention', () => {
    const metrics = runMetrics(
      report({ healthy: 9, stuck: 1, 'needs-redeploy': 2, unreadable: 1, failed: 3, recovered: 4 }),
    );
    expect(metrics).toEqual({
      Recovered: 4,
      NeedingAttention: 7,
      Unreachable: 0,
      Deferred: 0,
      Pending: 0,
      RunNotOk: 0,
      RunOk: 1,
    });
  });
  it('flags a run that could not do its job', () => {
    expect(runMetrics(report({}, false))).toMatchObject({ RunNotOk: 1, RunOk: 0 });
  });
});
