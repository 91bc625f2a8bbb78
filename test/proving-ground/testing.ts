/**
 * Helpers for the proving ground's own tests: start a Kasm Admin API and a fleet from a scenario
 * literal, wait for a condition, and look for leftovers (mounts, processes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createFleet, type Fleet, type FleetOptions } from './fleet.ts';
import { type KasmAdminApi, startKasmAdminApi } from './kasm/admin-api.ts';
import { parseScenario, type Scenario } from './scenario.ts';

export const REGISTRATION_TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';
export const FLEET_TAG = { key: 'kasm:reconcile', value: 'true' } as const;

export interface Ground {
  readonly scenario: Scenario;
  readonly api: KasmAdminApi;
  readonly fleet: Fleet;
  close(): Promise<void>;
}

/** Starts an Admin API and a fleet (components not started) for a scenario given as plain JSON. */
export async function startGround(
  scenarioJson: Record<string, unknown>,
  options: Partial<Omit<FleetOptions, 'kasm'>> = {},
): Promise<Ground> {
  const scenario = parseScenario(
    { registrationToken: `${REGISTRATION_TOKEN}\n`, ...scenarioJson },
    'test scenario',
  );
  const api = await startKasmAdminApi({ ...scenario.kasm, registrationToken: scenario.registrationToken });
  try {
    const fleet = await createFleet(scenario, { fleetTag: FLEET_TAG, ...options, kasm: api });
    return {
      scenario,
      api,
      fleet,
      close: async () => {
        await fleet.stop();
        await api.close();
      },
    };
  } catch (error) {
    await api.close();
    throw error;
  }
}

/** Polls `check` every 50 ms until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Lines of this process's mount table that mention `text`. */
export function mountsMentioning(text: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((line) => line.includes(text));
}

/** Pids of processes whose command line (arguments joined by spaces) contains `text`. */
export function processesMatching(text: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmdline.includes(text)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Decodes a JWT payload without verifying it. */
export function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}
