/**
 * Per-run CloudWatch metrics (embedded metric format, via Powertools Metrics), so the
 * statuses that need a person (README.md runbook, **person**) reach an operator through an alarm, not only the report.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { SERVICE_NAME } from '../shared/names.ts';
import type { ComponentStatus } from '../shared/token-rules.ts';
import type { RunReport } from './report.ts';

/** Statuses that need a person: nothing the next run can do will fix them. */
export const NEEDS_ATTENTION: readonly ComponentStatus[] = [
  'stuck',
  'needs-redeploy',
  'unreadable',
  'failed',
];

export interface RunMetrics {
  readonly Recovered: number;
  readonly NeedingAttention: number;
  readonly Unreachable: number;
  readonly Deferred: number;
  readonly Pending: number;
  readonly RunNotOk: number;
  /** 1 for a run that did its job: the "no successful run" alarm sums it over schedule periods. */
  readonly RunOk: number;
}

export function runMetrics(report: RunReport): RunMetrics {
  const count = (status: ComponentStatus) => report.totals[status] ?? 0;
  return {
    Recovered: count('recovered'),
    NeedingAttention: NEEDS_ATTENTION.reduce((sum, status) => sum + count(status), 0),
    Unreachable: count('unreachable'),
    Deferred: count('deferred'),
    Pending: count('pending'),
    RunNotOk: report.ok ? 0 : 1,
    RunOk: report.ok ? 1 : 0,
  };
}

/** `throttles`: AWS calls the run had to retry because the account's rate limit was reached. */
export function publishRunMetrics(report: RunReport, namespace: string, throttles = 0): void {
  const metrics = new Metrics({ namespace, serviceName: SERVICE_NAME });
  for (const [name, value] of Object.entries(runMetrics(report)))
    metrics.addMetric(name, MetricUnit.Count, value);
  metrics.addMetric('Throttles', MetricUnit.Count, throttles);
  metrics.publishStoredMetrics();
}
