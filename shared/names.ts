/**
 * Names the function, the stack, the operator command line and the tests must agree on:
 * the service name in logs and metrics, resource names derived from the environment name,
 * and the metrics namespace. Change one here and every user follows.
 */

/** The `service` of every log line and the `service` dimension of every metric. */
export const SERVICE_NAME = 'kasm-token-reconciler';

/** Prefix of the stack, the function, the SSM documents, the dashboard and the alarms. */
export const RESOURCE_PREFIX = 'KasmTokenReconciler';

/** The stack and the function of one environment share this name: `KasmTokenReconciler-dev`. */
export function functionName(environmentName: string): string {
  return `${RESOURCE_PREFIX}-${environmentName}`;
}
export const stackName = functionName;
export const dashboardName = functionName;

/** The alarms every stack has (infra/reconciler-alarms.ts), by id. */
export const ALARM_IDS = [
  'FunctionErrors',
  'FailedRunsWaiting',
  'InstanceStartsWaiting',
  'RunNotOk',
  'ComponentsNeedAttention',
  'NoSuccessfulRun',
] as const;
export type AlarmId = (typeof ALARM_IDS)[number];

/** `KasmTokenReconciler-prod-FunctionErrors`. */
export function alarmName(environmentName: string, alarmId: string): string {
  return `${functionName(environmentName)}-${alarmId}`;
}

/** The metrics namespace when none is set (a function run outside any stack). */
export const DEFAULT_METRICS_NAMESPACE = RESOURCE_PREFIX;

/** Per-environment CloudWatch namespace of the run metrics: `KasmTokenReconciler/prod`. */
export function metricsNamespace(environmentName: string): string {
  return `${RESOURCE_PREFIX}/${environmentName}`;
}

/** Folder of an environment's Logs Insights saved queries: `kasm-token-reconciler/prod/`. */
export function savedQueryName(environmentName: string, title: string): string {
  return `${SERVICE_NAME}/${environmentName}/${title}`;
}

/** Where the stack copies the Kasm CA bundle into the function's code (LAMBDA_TASK_ROOT is /var/task). */
export const BUNDLED_CA_FILE_NAME = 'kasm-ca.pem';
export const BUNDLED_CA_FILE_PATH = `/var/task/${BUNDLED_CA_FILE_NAME}`;
