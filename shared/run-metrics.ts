/**
 * The CloudWatch metrics the function publishes (namespace `KasmTokenReconciler/<env>`,
 * dimension `service`), declared once: the function publishes exactly these, the dashboard
 * graphs them, the alarms watch some, and docs/operating.md's table is written from this list
 * (a test fails when they differ).
 */
export const RUN_METRICS = {
  Recovered: 'components recovered in the run',
  Pending: 'components whose delivered file was not yet read when the run ended',
  Deferred: 'components waiting for delivery because the Kasm Admin API is unhealthy',
  Unreachable: 'components of examined hosts whose command the host never picked up',
  UnreachableHosts: 'hosts that could not be examined at all (offline, or the command never started)',
  NeedingAttention:
    'components that need a person (`stuck`, `needs-redeploy`, `unreadable`, `failed`), plus hosts that failed as a whole; alarm _ComponentsNeedAttention_',
  RunNotOk: '1 for a run that could not do its job (`ok: false`); alarm _RunNotOk_',
  RunOk: '1 for a run that did its job; alarm _NoSuccessfulRun_ fires while its sum stays 0',
  Throttles: "AWS calls the run had to retry because the account's rate limit was reached",
  RejectedEvents:
    '1 for an event the function rejected as invalid (published instead of the others; no run happened, no function error)',
} as const;

export type RunMetricName = keyof typeof RUN_METRICS;
