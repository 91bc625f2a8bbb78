/** A fleet larger than one SendCommand: batching is real. */
import { describe, expect, it } from 'vitest';
import { ID, reconcileOnce, sendCommands, withGround } from './harness.ts';

describe('a fleet of 60 hosts', () => {
  it('is probed and pushed in batches of at most 50 and fully recovered, with no prepare round', async () => {
    const hosts = Array.from({ length: 60 }, (_, i) => ({
      id: ID(i + 1),
      components:
        i % 3 === 0
          ? { agent: { token: 'valid' } }
          : { agent: { token: 'expired' }, guac: { token: 'expired' } },
    }));
    await withGround({ hosts }, async (ground) => {
      // 60 hosts share the proving ground's 8 step slots, so the 40th push starts on its host long
      // after the agent took it; real hosts start at once. A longer pick-up wait (and so a later
      // NotAfter) keeps that simulation queue from reading as a late delivery.
      const run = await reconcileOnce(ground, {}, { env: { PICKUP_WAIT_SECONDS: '180' } });
      const failedReasons = run.report.hosts.flatMap((h) =>
        h.components
          .filter((c) => c.status !== 'recovered' && c.status !== 'healthy')
          .map((c) => `${h.instanceId}/${c.name}: ${c.reason}`),
      );
      expect(failedReasons).toEqual([]);
      expect(run.report.totals).toEqual({ healthy: 20, recovered: 80 });
      for (const role of ['probe', 'push'] as const) {
        const commands = sendCommands(ground, role);
        expect(commands.every((c) => c.ids.length <= 50)).toBe(true);
      }
      // Observe 60 hosts: 50 + 10 (the 40 locked out make their keys meanwhile); push 40: one. No
      // prepare round: every host the push serves made its key while probed.
      expect(
        sendCommands(ground, 'probe')
          .map((c) => c.ids.length)
          .sort(),
      ).toEqual([10, 50]);
      expect(sendCommands(ground, 'push').map((c) => c.ids.length)).toEqual([40]);
      expect(Object.values(run.fleet).every((host) => Object.values(host).every((c) => c.tokenValid))).toBe(
        true,
      );
    });
    // 60 hosts running real bash, keygens included, share two cores: about 80 s here.
  }, 300_000);
});
