/**
 * End-to-end harness: a proving ground per test, the real handler run once, and a
 * search of everything the run produced for the registration token's value.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import {
  type ProvingGround,
  type ProvingGroundOptions,
  startProvingGround,
} from '../proving-ground/proving-ground.ts';
import { parseScenario } from '../proving-ground/scenario.ts';
import { type RunOptions, runOnce, type SimulationResult } from '../proving-ground/simulation.ts';

export const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';

export const ID = (n: number): string => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;

export interface Run extends SimulationResult {
  readonly logs: readonly string[];
}

export async function withGround<T>(
  scenario: Record<string, unknown>,
  work: (ground: ProvingGround) => Promise<T>,
  options: ProvingGroundOptions = {},
): Promise<T> {
  const ground = await startProvingGround(
    parseScenario(
      {
        registrationToken: `${TOKEN}\n`,
        ...scenario,
        kasm: { heartbeatSeconds: 1, ...(scenario.kasm as object) },
      },
      'e2e',
    ),
    options,
  );
  try {
    return await work(ground);
  } finally {
    await ground.stop();
  }
}

/** Everything a run produced that anyone could read afterwards. */
export function producedText(ground: ProvingGround, run: Partial<Run>): string {
  return [
    JSON.stringify(run.report ?? null),
    JSON.stringify(ground.aws.calls),
    JSON.stringify(
      ground.steps.map((s) => ({ env: s.run.env, stdout: s.result.stdout, stderr: s.result.stderr })),
    ),
    ...(run.logs ?? []),
  ].join('\n');
}

/** Asserts that no form of the token appears in what the run produced. */
export function expectNoLeak(ground: ProvingGround, run: Partial<Run>, token = TOKEN): void {
  const text = producedText(ground, run);
  expect(text.length).toBeGreaterThan(0);
  for (const form of [token, Buffer.from(token).toString('base64'), token.slice(0, 24)]) {
    expect(text.includes(form), `the token (${form === token ? 'as is' : 'a form of it'}) leaked`).toBe(
      false,
    );
  }
}

/** Runs the handler once, then checks for leaks: in what the run produced, and in any file on any host. */
export async function reconcileOnce(
  ground: ProvingGround,
  event: unknown = {},
  options: RunOptions = {},
): Promise<Run> {
  const logs: string[] = [];
  const result = await runOnce(ground, event, { ...options, onLog: (line) => logs.push(line) });
  const run = { ...result, logs };
  expectNoLeak(ground, run);
  expect(run.strayTokenFiles, 'files other than a regular registration_token.txt hold the token').toEqual({});
  return run;
}

export function statusOf(run: Run, instanceId: string, component: string): string | undefined {
  return run.report.hosts
    .find((h) => h.instanceId === instanceId)
    ?.components.find((c) => c.name === component)?.status;
}

export function componentOf(run: Run, instanceId: string, component: string) {
  return run.report.hosts
    .find((h) => h.instanceId === instanceId)
    ?.components.find((c) => c.name === component);
}

/** SendCommand calls for one document role, with their InstanceIds. */
export function sendCommands(
  ground: ProvingGround,
  role: 'probe' | 'push',
): { ids: string[]; params: Record<string, string[]> }[] {
  return ground.aws.calls
    .filter((c) => c.operation === 'SendCommand' && c.status === 200)
    .map(
      (c) =>
        c.params as { DocumentName: string; InstanceIds: string[]; Parameters: Record<string, string[]> },
    )
    .filter((p) => p.DocumentName === ground.info.documents[role])
    .map((p) => ({ ids: p.InstanceIds, params: p.Parameters }));
}

/** Files in a component's config directory other than its config (temp files, keys, tokens). */
export function strayFiles(
  ground: ProvingGround,
  instanceId: string,
  component: string,
  configFile: string,
): string[] {
  const dir = join(ground.fleet.configPath(instanceId, component as never), '..');
  return readdirSync(dir).filter((f) => f !== configFile);
}

/** Entries of the host's sealing-key directory, `/run/kasm-token-reconciler` (none when it was never made). */
export function stateDirEntries(ground: ProvingGround, instanceId: string): string[] {
  const dir = join(ground.fleet.hostRoot(instanceId), 'run/kasm-token-reconciler');
  return existsSync(dir) ? readdirSync(dir) : [];
}
