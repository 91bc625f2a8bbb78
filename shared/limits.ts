/** Limits of AWS APIs that the function and the stack both build on, each with its source. */

/**
 * SendCommand: "InstanceIds … Maximum number of 50 items."
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
 */
export const MAX_INSTANCES_PER_COMMAND = 50;

/**
 * ENV_VAR interpolation of document parameters needs SSM Agent 3.3.2746.0 or later; older
 * agents run the script without any SSM_<Parameter> variable, and the scripts take the values
 * those agents splice into their text instead (the run report names such an agent's version).
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
 */
export const MIN_AGENT_VERSION = '3.3.2746.0';

/** True when a dotted agent version is at least `minimum` (unknown versions are not). */
export function agentVersionAtLeast(version: string, minimum: string = MIN_AGENT_VERSION): boolean {
  if (!/^\d+(\.\d+)*$/.test(version)) return false;
  const a = version.split('.').map(Number);
  const b = minimum.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/**
 * How long Lambda gathers instance-start messages before invoking (the SQS maximum is 300 s).
 * Agents take 30 to 60 s to check in after boot anyway, so 20 s still gathers a burst of
 * starts into few runs while power-on to recovered stays within two minutes (npm run bench).
 */
export const INSTANCE_START_BATCHING_WINDOW_SECONDS = 20;
