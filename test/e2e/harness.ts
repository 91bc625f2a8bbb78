/**
 * End-to-end harness: a proving ground per test, the real handler run once, and a
 * search of everything the run produced for the registration token in any form.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { describeLeaks, scanForLeaks } from '../leak-scanner.ts';
import type { FleetState } from '../proving-ground/fleet.ts';
import {
  type ProvingGround,
  type ProvingGroundOptions,
  startProvingGround,
} from '../proving-ground/proving-ground.ts';
import { parseScenario } from '../proving-ground/scenario.ts';
import {
  type Invocation,
  type RunOptions,
  runOnce,
  runTogether,
  type SimulationResult,
} from '../proving-ground/simulation.ts';
import { artifactSources, runArtifacts } from './run-artifacts.ts';

export const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';

export const ID = (n: number): string => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;

/**
 * A JWT whose payload is long, as with a large authorizations list (only header.payload is read): a
 * probe reporting it prints more than the 2,500 characters ListCommandInvocations returns per plugin.
 */
export function longToken(exp: number): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const authorizations = Array.from({ length: 400 }, (_, i) => 100 + i);
  return `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ exp, connection_proxy_id: 'p', authorizations })}.c2ln`;
}

export interface Run extends SimulationResult {
  /** What the handler wrote to stdout (Powertools' JSON lines, EMF metrics), line by line. */
  readonly logs: readonly string[];
  /** What was written to stderr during the run (Powertools' warnings and errors). */
  readonly stderr: readonly string[];
}

export interface GroundOptions extends ProvingGroundOptions {
  /**
   * The test itself puts the token into files on a host (the leak check's own test): leaves out the
   * check, after the test's body, that no file but a regular registration_token.txt holds it. The
   * canaries are checked all the same.
   */
  readonly plantsTokenFiles?: boolean;
}

/**
 * Starts a proving ground for `work` and stops it after. When `work` succeeds, the fleet is checked
 * whatever the test did with it (a run, the ops CLI, nothing): see `expectCleanFleet`.
 */
export async function withGround<T>(
  scenario: Record<string, unknown>,
  work: (ground: ProvingGround) => Promise<T>,
  options: GroundOptions = {},
): Promise<T> {
  const { plantsTokenFiles = false, ...groundOptions } = options;
  const ground = await startProvingGround(
    parseScenario(
      {
        registrationToken: `${TOKEN}\n`,
        ...scenario,
        kasm: { heartbeatSeconds: 1, ...(scenario.kasm as object) },
      },
      'e2e',
    ),
    groundOptions,
  );
  try {
    const result = await work(ground);
    expectCleanFleet(ground, { plantsTokenFiles });
    return result;
  } finally {
    await ground.stop();
  }
}

/**
 * The fleet as a test leaves it: no file on any host holds the token (the harness's, and the scenario's
 * when that differs) other than a regular registration_token.txt, unless `plantsTokenFiles`; and every
 * trap's root-owned canary is intact.
 */
export function expectCleanFleet(ground: ProvingGround, options: { plantsTokenFiles?: boolean } = {}): void {
  if (!options.plantsTokenFiles) {
    const scenarioToken = ground.scenario.registrationToken?.replace(/[\r\n]+$/, '');
    for (const token of new Set([TOKEN, ...(scenarioToken ? [scenarioToken] : [])])) {
      const stray = ground.fleet.strayTokenFiles(token);
      expect(
        stray,
        `after the test, files other than a regular registration_token.txt hold the token: ${JSON.stringify(stray)}`,
      ).toEqual({});
    }
  }
  expectCanariesIntact(ground.fleetState());
}

/** Every trap's root-owned canary in `fleet` kept its content, owner and mode (components without a trap have none). */
export function expectCanariesIntact(fleet: FleetState): void {
  const changed = Object.entries(fleet).flatMap(([id, components]) =>
    Object.entries(components)
      .filter(([, state]) => state.canary !== undefined && state.canary !== 'intact')
      .map(([name, state]) => `${id}/${name}: ${state.canary}`),
  );
  expect(
    changed,
    `root-owned canaries outside the config directories were written to: ${changed.join(', ')}`,
  ).toEqual([]);
}

/**
 * Asserts that the token appears, in none of the forms the leak scanner knows, in anything
 * the run produced (see run-artifacts.ts for what that covers and the two places left out).
 */
export function expectNoLeak(ground: ProvingGround, run: Partial<Run>, token = TOKEN): void {
  const sources = artifactSources(runArtifacts(ground, run));
  const leaks = scanForLeaks(token, sources);
  expect(sources.length, 'the leak search found nothing to search').toBeGreaterThan(0);
  expect(leaks, `the registration token leaked:\n${describeLeaks(leaks)}`).toEqual([]);
}

/** Runs the handler once, then checks for leaks: in what the run produced, and in any file on any host. */
export async function reconcileOnce(
  ground: ProvingGround,
  event: unknown = {},
  options: RunOptions = {},
): Promise<Run> {
  const logs: string[] = [];
  const stderr: string[] = [];
  const result = await runOnce(ground, event, {
    ...options,
    onLog: (line) => logs.push(line),
    onStderr: (line) => stderr.push(line),
  });
  const run = { ...result, logs, stderr };
  expectNoLeak(ground, run);
  expect(run.strayTokenFiles, 'files other than a regular registration_token.txt hold the token').toEqual({});
  expectCanariesIntact(run.fleet);
  return run;
}

/** Runs the handler several times at once (overlapping runs), then checks for leaks as reconcileOnce does. */
export async function reconcileTogether(
  ground: ProvingGround,
  invocations: readonly Invocation[],
  options: RunOptions = {},
): Promise<Run[]> {
  const logs: string[] = [];
  const stderr: string[] = [];
  const results = await runTogether(ground, invocations, {
    ...options,
    onLog: (line) => logs.push(line),
    onStderr: (line) => stderr.push(line),
  });
  const runs = results.map((result) => ({ ...result, logs, stderr }));
  for (const run of runs) expectNoLeak(ground, run);
  expect(
    runs[0]?.strayTokenFiles,
    'files other than a regular registration_token.txt hold the token',
  ).toEqual({});
  for (const run of runs) expectCanariesIntact(run.fleet);
  return runs;
}

/** Resolves once `condition` holds, checking every 20 ms; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('the awaited condition did not come true in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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

/** The proving ground's successful replies to one AWS operation, each parsed, with what was asked and when. */
export function awsReplies<T>(
  ground: ProvingGround,
  operation: string,
): { params: unknown; at: string; body: T }[] {
  return ground.aws.calls
    .filter((c) => c.operation === operation && c.status === 200)
    .map((c) => ({ params: c.params, at: c.at, body: JSON.parse(c.responseBody ?? '{}') as T }));
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
