import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RunReport } from '../../lambda/report.ts';
import { publishRejectedEvent, publishRunMetrics, runMetrics } from '../../lambda/run-metrics.ts';
import { SERVICE_NAME } from '../../shared/names.ts';
import { RUN_METRICS } from '../../shared/run-metrics.ts';
import { runReport } from './report-fixture.ts';

const report = (
  totals: RunReport['totals'],
  ok = true,
  hostTotals: RunReport['hostTotals'] = {},
): RunReport => runReport({ totals, ok, hostTotals });

describe('runMetrics', () => {
  it('sums the statuses a person must act on into NeedingAttention', () => {
    const metrics = runMetrics(
      report({ healthy: 9, stuck: 1, 'needs-redeploy': 2, unreadable: 1, failed: 3, recovered: 4 }),
    );
    expect(metrics).toEqual({
      Recovered: 4,
      NeedingAttention: 7,
      Unreachable: 0,
      UnreachableHosts: 0,
      Deferred: 0,
      Pending: 0,
      RunNotOk: 0,
      RunOk: 1,
    });
  });
  it('counts an offline host once, apart from components, and a host that failed as a whole as one needing a person', () => {
    expect(
      runMetrics(report({ healthy: 4, failed: 1 }, true, { examined: 2, unreachable: 3, failed: 2 })),
    ).toMatchObject({
      Unreachable: 0,
      UnreachableHosts: 3,
      NeedingAttention: 3,
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
    // Every metric shared/run-metrics.ts declares (and docs/operating.md lists), except the rejected-event one.
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort()).toStrictEqual(
      Object.keys(RUN_METRICS)
        .filter((name) => name !== 'RejectedEvents')
        .sort(),
    );
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toContainEqual({ Name: 'Throttles', Unit: 'Count' });
  });
});

describe('publishRejectedEvent', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes RejectedEvents alone, so a rejected event counts neither as a failed run nor as a successful one', () => {
    // Prepare
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: unknown) => {
      written.push(String(chunk));
      return true;
    }) as never);

    // Act
    publishRejectedEvent('KasmTokenReconciler/unit');

    // Assess
    const emf = JSON.parse(
      written
        .join('')
        .split('\n')
        .find((line) => line.startsWith('{')) ?? '{}',
    );
    expect(emf._aws.CloudWatchMetrics[0].Metrics).toStrictEqual([{ Name: 'RejectedEvents', Unit: 'Count' }]);
    expect(emf.RejectedEvents).toBe(1);
  });
});
