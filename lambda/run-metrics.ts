/**
 * Per-run CloudWatch metrics (embedded metric format, via Powertools Metrics), so the
 * statuses that need a person (docs/operating.md runbook, **person**) reach an operator
 * through an alarm, not only the report. Their names and meanings: shared/run-metrics.ts.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SERVICE_NAME } from '../shared/names.ts';
import type { RunMetricName } from '../shared/run-metrics.ts';
import type { ComponentStatus } from '../shared/token-rules.ts';
import type { RunReport } from './report.ts';

/** Statuses that need a person: nothing the next run can do will fix them. */
export const NEEDS_ATTENTION: readonly ComponentStatus[] = [
  'stuck',
  'needs-redeploy',
  'unreadable',
  'failed',
];

export type RunMetrics = Readonly<Record<Exclude<RunMetricName, 'Throttles' | 'RejectedEvents'>, number>>;

export function runMetrics(report: Pick<RunReport, 'ok' | 'totals' | 'hostTotals'>): RunMetrics {
  const count = (status: ComponentStatus) => report.totals[status] ?? 0;
  return {
    Recovered: count('recovered'),
    Pending: count('pending'),
    Deferred: count('deferred'),
    Unreachable: count('unreachable'),
    UnreachableHosts: report.hostTotals.unreachable ?? 0,
    NeedingAttention:
      NEEDS_ATTENTION.reduce((sum, status) => sum + count(status), 0) + (report.hostTotals.failed ?? 0),
    RunNotOk: report.ok ? 0 : 1,
    RunOk: report.ok ? 1 : 0,
  };
}

function publish(namespace: string, values: Partial<Record<RunMetricName, number>>): void {
  const metrics = new Metrics({ namespace, serviceName: SERVICE_NAME });
  for (const [name, value] of Object.entries(values)) metrics.addMetric(name, MetricUnit.Count, value);
  metrics.publishStoredMetrics();
}

/** `throttles`: AWS calls the run had to retry because the account's rate limit was reached. */
export function publishRunMetrics(report: RunReport, namespace: string, throttles = 0): void {
  publish(namespace, { ...runMetrics(report), Throttles: throttles });
}

/** An event rejected before any run: counted, but neither a run that failed nor a function error. */
export function publishRejectedEvent(namespace: string): void {
  publish(namespace, { RejectedEvents: 1 });
}
