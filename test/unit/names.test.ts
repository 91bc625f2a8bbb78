/**
 * The names docs/ documents and operators rely on (IAM policies, alarm runbooks, the
 * Logs Insights query folder, the CloudWatch namespace): derived from the environment name.
 *
 * Each test imports the module afresh: its constants are evaluated on import, and the mutation
 * run only counts a test as reading them when the import happens inside that test.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';

const names = () => import('../../shared/names.ts');

beforeEach(() => {
  vi.resetModules();
});

describe('resource names', () => {
  it('names the stack, the function and the dashboard of an environment KasmTokenReconciler-<env>', async () => {
    const { dashboardName, functionName, stackName } = await names();
    expect([stackName('prod'), functionName('prod'), dashboardName('prod')]).toEqual([
      'KasmTokenReconciler-prod',
      'KasmTokenReconciler-prod',
      'KasmTokenReconciler-prod',
    ]);
  });
  it('names an alarm KasmTokenReconciler-<env>-<Alarm>', async () => {
    const { alarmName } = await names();
    expect(alarmName('prod', 'FunctionErrors')).toBe('KasmTokenReconciler-prod-FunctionErrors');
  });
  it('puts the run metrics of an environment in the namespace KasmTokenReconciler/<env>', async () => {
    const { metricsNamespace } = await names();
    expect(metricsNamespace('prod')).toBe('KasmTokenReconciler/prod');
  });
  it('files the saved Logs Insights queries of an environment under kasm-token-reconciler/<env>/', async () => {
    const { savedQueryName } = await names();
    expect(savedQueryName('prod', 'Run summaries')).toBe('kasm-token-reconciler/prod/Run summaries');
  });
  it('copies the Kasm CA bundle into the function code root as /var/task/kasm-ca.pem', async () => {
    const { BUNDLED_CA_FILE_PATH } = await names();
    expect(BUNDLED_CA_FILE_PATH).toBe('/var/task/kasm-ca.pem');
  });
});
