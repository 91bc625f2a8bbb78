/**
 * Runs may overlap (no reserved concurrency): two full reconciles at once on one fleet, a scheduled run
 * beside an instance-start run, and two scheduled runs (the second leaves the fleet to the first). Safety comes from
 * the hosts: each step checks and writes under the host's lock, and a push that finds another run's file
 * waiting (or the component already given a new token) stands back and says so. So every locked-out
 * component gets one registration file, from one run, and neither report says anything untrue.
 */
import { describe, expect, it } from 'vitest';
import { parseComment } from '../../lambda/command-comment.ts';
import type { RunReport } from '../../lambda/report.ts';
import { roleOfScript } from '../../shared/host-protocol.ts';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import { scheduledEvent } from '../scheduled-event.ts';
import { startedRecord } from '../start-events.ts';
import { ID, reconcileTogether, sendCommands, statusOf, until, withGround } from './harness.ts';

const SCHEDULED = scheduledEvent();

const lockedOut = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: ID(i + 1),
    components: { agent: { token: 'expired' }, guac: { token: 'valid' } },
  }));

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
        // Act: two whole-fleet runs as an operator starts them ({}), started together.
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
        // They overlapped for real: both runs observed the whole fleet locked out before either delivered.
        // Whether the second then pushes to a host depends on timing (its probe may meet the first's key
        // under the host lock, and probe again after the component recovered): at least one push a host.
        expect(observedBeforeAnyDelivery(ground).size).toBe(2);
        expect(pushCount(ground)).toBeGreaterThanOrEqual(3);
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

describe('two scheduled runs at once', () => {
  it('leave the fleet to the first: the second sees its commands in SSM history and changes nothing', async () => {
    await withGround({ hosts: lockedOut(3) }, async (ground) => {
      // Act: the second starts once the first's probe shows in SSM's history (the first reads its results)
      const read = () =>
        ground.aws.calls.some((c) => c.operation === 'ListCommandInvocations' && c.status === 200);
      const [first, second] = await reconcileTogether(ground, [
        { event: SCHEDULED },
        { event: SCHEDULED, after: () => until(read) },
      ]);

      // Assess
      for (let n = 1; n <= 3; n++) expect(statusOf(first!, ID(n), 'agent')).toBe('recovered');
      expect(first?.report.skipped).toBeUndefined();
      expect(second?.report).toMatchObject({ ok: true, hosts: [], errors: [], hostTotals: {} });
      expect(second?.report.skipped?.otherRunId).toBe(first?.report.runId);
      expect((second?.report as { summary?: string } | undefined)?.summary).toMatch(
        /^Skipped: run \S+ is still reconciling the whole fleet/,
      );
      // One probe and one push per host, all the first run's.
      expect(
        sendCommands(ground, 'push')
          .flatMap((c) => c.ids)
          .sort(),
      ).toEqual([ID(1), ID(2), ID(3)]);
      for (let n = 1; n <= 3; n++) expect(first?.fleet[ID(n)]?.agent).toMatchObject({ tokenValid: true });
    });
  });
});

describe('a scheduled run and an instance-start run at once', () => {
  it('deliver to the started host once between them, and neither report says anything untrue', async () => {
    await withGround(
      {
        hosts: [
          { id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'expired' } } },
          { id: ID(2), components: { agent: { token: 'expired' } } },
        ],
      },
      async (ground) => {
        // Act: the schedule fires as host 1's start batch arrives
        const [scheduled, started] = await reconcileTogether(ground, [
          { event: SCHEDULED },
          { event: { Records: [startedRecord(ID(1))] } },
        ]);

        // Assess: one file per component over both runs, each consumed once
        const written = writtenByPushes(ground);
        for (const [id, name] of [
          [ID(1), 'agent'],
          [ID(1), 'guac'],
          [ID(2), 'agent'],
        ] as const) {
          expect(written.get(`${id}/${name}`), `${id}/${name} files written`).toBe(1);
          expect(loadedCount(ground, id, name), `${id}/${name} registrations`).toBe(1);
          expect(scheduled?.fleet[id]?.[name]).toMatchObject({
            tokenValid: true,
            registrationFile: 'absent',
          });
        }
        // They overlapped for real: both observed before either delivered.
        expect(observedBeforeAnyDelivery(ground).size).toBe(2);
        // The scheduled run covered the whole fleet, the start run host 1 only; both tell the truth.
        expect(started?.report.hosts.map((h) => h.instanceId)).toStrictEqual([ID(1)]);
        for (const run of [scheduled, started]) {
          expect(run?.report).toMatchObject({ ok: true, errors: [] });
          for (const host of run?.report.hosts ?? []) {
            for (const c of host.components) expect(['recovered', 'pending', 'healthy']).toContain(c.status);
          }
        }
        const host1 = [scheduled, started].map((r) => statusIn(r?.report as RunReport, ID(1), 'agent'));
        expect(host1).toContain('recovered');
      },
    );
  }, 120_000);
});

/** `host/component` -> how many `push=written` lines the pushes of every run printed for it. */
function writtenByPushes(ground: ProvingGround): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { run, result } of ground.steps) {
    if (roleOfScript(run.script) !== 'push') continue;
    for (const [, name] of result.stdout.matchAll(/^comp (\S+) push=written /gm)) {
      const key = `${run.instanceId}/${name}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** The runs (by run id) whose observe command went out before any run's first delivery. */
function observedBeforeAnyDelivery(ground: ProvingGround): Set<string> {
  const sent = ground.aws.calls
    .filter((c) => c.operation === 'SendCommand' && c.status === 200)
    .map((c) => ({
      at: Date.parse(c.at),
      comment: parseComment((c.params as { Comment?: string }).Comment),
    }));
  const firstDelivery = Math.min(...sent.filter((s) => s.comment?.step === 'deliver').map((s) => s.at));
  return new Set(
    sent.flatMap((s) => (s.comment?.step === 'observe' && s.at <= firstDelivery ? [s.comment.runId] : [])),
  );
}

function pushCount(ground: ProvingGround): number {
  return ground.steps.filter(({ run }) => roleOfScript(run.script) === 'push').length;
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
