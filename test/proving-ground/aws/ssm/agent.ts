/**
 * The SSM Agent as SSM sees it: agent versions, and the environment an agent of a given version
 * gives a document step.
 */
import type { SimulatedNode } from '../../types.ts';

/**
 * First SSM Agent that sets `SSM_<Parameter>` for `interpolationType: ENV_VAR` parameters; older agents run
 * the script without them ("Parameter interpolation ... requires SSM Agent version 3.3.2746.0 or later",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html).
 */
export const ENV_VAR_AGENT_VERSION = '3.3.2746.0';
/** What a node reports when it does not say: a current agent. */
export const DEFAULT_AGENT_VERSION = ENV_VAR_AGENT_VERSION;

/** Compares dotted SSM Agent versions numerically ("3.3.2746.0" > "3.3.987.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * The environment the agent gives a runShellScript / runPowerShellScript step, by agent version
 * (github.com/aws/amazon-ssm-agent: agent/executers/executers.go prepareEnvironment - AWS_SSM_INSTANCE_ID and
 * AWS_SSM_REGION_NAME since 2016, AWS_SSM_PLATFORM_NAME / _VERSION since 3.0.854.0; runscript.go sets
 * SSM_COMMAND_ID since 3.0.356.0, per RELEASENOTES.md). `SSM_<Param>` only from 3.3.2746.0 on.
 */
export function agentEnvironment(
  node: SimulatedNode,
  region: string,
  commandId: string,
  params: Readonly<Record<string, string>>,
): Record<string, string> {
  const version = node.agentVersion ?? DEFAULT_AGENT_VERSION;
  const windows = node.platform === 'Windows';
  const env: Record<string, string> = { AWS_SSM_INSTANCE_ID: node.instanceId, AWS_SSM_REGION_NAME: region };
  if (compareVersions(version, '3.0.854.0') >= 0) {
    env.AWS_SSM_PLATFORM_NAME = windows ? 'Microsoft Windows Server 2022 Datacenter' : 'Ubuntu';
    env.AWS_SSM_PLATFORM_VERSION = windows ? '10.0.20348' : '22.04';
  }
  if (compareVersions(version, '3.0.356.0') >= 0) env.SSM_COMMAND_ID = commandId;
  if (compareVersions(version, ENV_VAR_AGENT_VERSION) >= 0) Object.assign(env, params);
  return env;
}
