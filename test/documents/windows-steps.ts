/**
 * The Windows steps of the probe and push documents on a simulated Windows host, run with PowerShell 7,
 * the way an SSM Agent hands them their parameters: as SSM_ variables (3.3.2746.0 and later), or spliced
 * into the text at their placeholders by an older agent, which sets no SSM_ variable for them.
 */
import { join } from 'node:path';
import { DEFAULT_WINDOWS_INSTALL_DIR, DEFAULT_WINDOWS_SERVICE_NAME } from '../../shared/catalog.ts';
import { probeDocument, pushDocument, windowsScript } from '../../shared/documents/ssm-documents.ts';
import { parseProbeOutput } from '../../shared/host-report.ts';
import { substituteLines } from '../proving-ground/aws/documents.ts';
import { agentEnvironment } from '../proving-ground/aws/ssm/agent.ts';
import { type Ground, startGround } from '../proving-ground/testing.ts';
import type { StepResult, StepRun } from '../proving-ground/types.ts';

export const WINDOWS_HOST = 'i-0a1b2c3d4e5f60799';
export const RUN_ID = 'run-0001';
const REGION = 'eu-west-1';
const COMMAND_ID = '2b0e8e5c-4f0a-4c57-9d1e-6a1f0c3b7d21';

/** A started ground of Windows hosts (components running) each with one `windows` component. */
export async function startWindowsGround(
  component: Record<string, unknown> = { token: 'expired' },
  hosts: readonly string[] = [WINDOWS_HOST],
): Promise<Ground> {
  const ground = await startGround({
    kasm: { heartbeatSeconds: 0.5 },
    hosts: hosts.map((id) => ({ id, platform: 'Windows', components: { windows: component } })),
  });
  ground.fleet.start();
  return ground;
}

export interface WindowsStepOptions {
  readonly host?: string;
  /**
   * The version of an SSM Agent older than 3.3.2746.0 that runs the step: the values are spliced into the
   * document's lines as the proving ground's SSM does (aws/documents.ts substituteLines) and the step gets
   * that agent's environment (aws/ssm/agent.ts agentEnvironment), which holds no SSM_<Parameter>.
   * Without it the step gets the SSM_ variables, as from a current agent.
   */
  readonly splicedBy?: string;
}

/**
 * The run of one Windows step. `env` holds the parameters by their SSM_ names, over what the documents'
 * defaults (probe) and the function (push) always pass.
 */
export function windowsStepRun(
  g: Ground,
  role: 'probe' | 'push',
  env: Record<string, string>,
  options: WindowsStepOptions = {},
): StepRun {
  const host = options.host ?? WINDOWS_HOST;
  const params: Record<string, string> = {
    SSM_WindowsInstallDir: DEFAULT_WINDOWS_INSTALL_DIR,
    SSM_WindowsServiceName: DEFAULT_WINDOWS_SERVICE_NAME,
    SSM_RunId: RUN_ID,
    SSM_KeyPair: 'none',
    SSM_GraceSeconds: '3600',
    SSM_WaitSeconds: '0',
    SSM_NotAfter: String(Math.floor(Date.now() / 1000) + 3600),
    ...env,
  };
  const run = { instanceId: host, action: 'aws:runPowerShellScript', timeoutSeconds: 120 } as const;
  if (options.splicedBy === undefined) {
    return {
      ...run,
      script: windowsScript(role),
      env: { AWS_SSM_INSTANCE_ID: host, AWS_SSM_REGION_NAME: REGION, ...params },
    };
  }
  const node = g.fleet.nodes().find((n) => n.instanceId === host);
  if (node === undefined) throw new Error(`no host ${host} on the ground`);
  const doc = role === 'probe' ? probeDocument() : pushDocument();
  const lines = doc.mainSteps.find((s) => s.name.endsWith('Windows'))?.inputs.runCommand ?? [];
  const values = new Map(Object.entries(params).map(([k, v]) => [k.replace(/^SSM_/, ''), [v]]));
  return {
    ...run,
    script: substituteLines(lines, values).join('\n'),
    env: agentEnvironment({ ...node, agentVersion: options.splicedBy }, REGION, COMMAND_ID, params),
  };
}

export function windowsStep(
  g: Ground,
  role: 'probe' | 'push',
  env: Record<string, string>,
  options: WindowsStepOptions = {},
): Promise<StepResult> {
  return g.fleet.runStep(windowsStepRun(g, role, env, options));
}

/** Probes with KeyPair=create and returns the SubjectPublicKeyInfo the host printed. */
export async function probeKey(g: Ground, runId = RUN_ID, options: WindowsStepOptions = {}): Promise<string> {
  const result = await windowsStep(g, 'probe', { SSM_KeyPair: 'create', SSM_RunId: runId }, options);
  if (result.exitCode !== 0)
    throw new Error(`probe exited ${result.exitCode}\n${result.stdout}\n${result.stderr}`);
  const parsed = parseProbeOutput(result.stdout);
  if (!parsed.ok) throw new Error(`${parsed.problem}\n${result.stdout}\n${result.stderr}`);
  const key = parsed.value.sealingKey;
  if (key?.kind !== 'ready') throw new Error(`no key: ${result.stdout}`);
  return key.spkiDerBase64;
}

export const stateDir = (g: Ground, host = WINDOWS_HOST) =>
  join(g.fleet.hostRoot(host), 'C/ProgramData/kasm-token-reconciler');
export const installDir = (g: Ground, host = WINDOWS_HOST) =>
  join(g.fleet.hostRoot(host), 'C/Program Files/Kasm');
