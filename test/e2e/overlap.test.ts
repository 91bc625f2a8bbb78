/**
 * Runs may overlap (no reserved concurrency): two full reconciles at once on one fleet. Safety comes from
 * the hosts: each step checks and writes under the host's lock, and a push that finds another run's file
 * waiting (or the component already given a new token) stands back and says so. So every locked-out
 * component gets one registration file, from one run, and neither report says anything untrue.
 */
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../lambda/report.ts';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import { ID, reconcileTogether, withGround } from './harness.ts';

/** Every locked-out component of the fleet below. */
const LOCKED_OUT = [
  [ID(1), 'agent'],
  [ID(1), 'guac'],
  [ID(2), 'rdp_gateway'],
  [ID(3), 'agent'],
  [ID(3), 'rdp_https_gateway'],
] as const;

describe('two reconcile runs at once on one fleet', () => {
  it('deliver to each locked-out component once, leave no second or stray file, and both report honestly', async () => {
    await withGround(
      {
        hosts: [
          { id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'expired' } } },
          { id: ID(2), components: { agent: { token: 'valid' }, rdp_gateway: { token: 'expired' } } },
          {
            id: ID(3),
            components: { agent: { token: 'expired' }, rdp_https_gateway: { token: 'expired' } },
          },
        ],
      },
      async (ground) => {
        // Act: two scheduled-style runs ({}), started together.
        const runs = await reconcileTogether(ground, [{ event: {} }, { event: {} }]);
        const reports = runs.map((r) => r.report);
        const run = runs[0] as (typeof runs)[number];

        // Assess: one file written per component, over both runs' pushes, and consumed.
        const written = writtenByPushes(ground);
        for (const [id, name] of LOCKED_OUT) {
          expect(written.get(`${id}/${name}`), `${id}/${name} files written`).toBe(1);
          expect(loadedCount(ground, id, name), `${id}/${name} registrations`).toBe(1);
          expect(run.fleet[id]?.[name]).toMatchObject({ tokenValid: true, registrationFile: 'absent' });
        }
        // Both runs pushed (they overlapped for real), and each host's second push stood back.
        expect(pushCount(ground)).toBeGreaterThanOrEqual(2 * 3);
        for (const [id, name] of LOCKED_OUT) {
          const statuses = reports.map((r) => statusIn(r, id, name));
          expect(statuses, `${id}/${name}: ${JSON.stringify(reasonsIn(reports, id, name))}`).toContain(
            'recovered',
          );
          for (const status of statuses) expect(['recovered', 'pending', 'healthy']).toContain(status);
        }
        for (const report of reports) {
          expect(report.ok).toBe(true);
          expect(report.errors).toEqual([]);
        }
      },
    );
  }, 120_000);
});

/** `host/component` -> how many `push=written` lines the pushes of every run printed for it. */
function writtenByPushes(ground: ProvingGround): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { run, result } of ground.steps) {
    if (!run.script.includes("echo 'ktr-push v1'")) continue;
    for (const [, name] of result.stdout.matchAll(/^comp (\S+) push=written /gm)) {
      const key = `${run.instanceId}/${name}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function pushCount(ground: ProvingGround): number {
  return ground.steps.filter(({ run }) => run.script.includes("echo 'ktr-push v1'")).length;
}

/** How often the component read a registration file (its log line for each). */
function loadedCount(ground: ProvingGround, id: string, name: string): number {
  return ground.fleet
    .readLog(id, name as never)
    .split('\n')
    .filter((l) => l.includes('Loaded registration token')).length;
}

function statusIn(report: RunReport, id: string, name: string): string | undefined {
  return report.hosts.find((h) => h.instanceId === id)?.components.find((c) => c.name === name)?.status;
}

function reasonsIn(reports: readonly RunReport[], id: string, name: string): unknown[] {
  return reports.map((r) =>
    r.hosts.find((h) => h.instanceId === id)?.components.find((c) => c.name === name),
  );
}
