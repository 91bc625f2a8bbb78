/**
 * Names derived from the environment name, shared by the stack and the operator CLI
 * (infra/ops), which finds an environment's function without reading CloudFormation.
 */
export function functionName(environmentName: string): string {
  return `KasmTokenReconciler-${environmentName}`;
}
