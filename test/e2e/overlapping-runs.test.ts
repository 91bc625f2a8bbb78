/**
 * Runs that overlap on one fleet, as they may once nothing reserves the function's concurrency: each
 * component delivered at most once, no stray file, and two honest reports.
 */
import { describe, expect, it } from 'vitest';
import { ID, reconcileTogether, sendCommands, statusOf, until, withGround } from './harness.ts';

const SCHEDULED = { 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} };

const lockedOut = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: ID(i + 1),
    components: { agent: { token: 'expired' }, guac: { token: 'valid' } },
  }));

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
