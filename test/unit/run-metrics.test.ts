import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunReport } from '../../lambda/report.ts';
import { publishRunMetrics, runMetrics } from '../../lambda/run-metrics.ts';
import { SERVICE_NAME } from '../../shared/names.ts';
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
  it('counts the components that wait for a later run', () => {
    expect(runMetrics(report({ unreachable: 2, deferred: 3, pending: 4, healthy: 1 }))).toMatchObject({
      Unreachable: 2,
      Deferred: 3,
      Pending: 4,
      NeedingAttention: 0,
    });
  });
  it('flags a run that could not do its job', () => {
    expect(runMetrics(report({}, false))).toMatchObject({ RunNotOk: 1, RunOk: 0 });
  });
});

describe('publishRunMetrics', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes one embedded-metric document: every run metric and the throttle count, in the namespace given', () => {
    // Prepare
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as never);

    // Act
    publishRunMetrics(report({ recovered: 2, failed: 1 }), 'KasmTokenReconciler/unit', 7);

    // Assess
    const documents = written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'));
    expect(documents).toHaveLength(1);
    const emf = JSON.parse(documents[0] ?? '{}');
    expect(emf._aws.CloudWatchMetrics).toEqual([
      expect.objectContaining({ Namespace: 'KasmTokenReconciler/unit', Dimensions: [['service']] }),
    ]);
    expect(emf).toMatchObject({
      service: SERVICE_NAME,
      Recovered: 2,
      NeedingAttention: 1,
      Unreachable: 0,
      Deferred: 0,
      Pending: 0,
      RunNotOk: 0,
      RunOk: 1,
      Throttles: 7,
    });
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: 'Throttles', Unit: 'Count' });
  });
});
