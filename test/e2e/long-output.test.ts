/** Probe output past the 2,500 characters ListCommandInvocations returns per plugin. */
import { describe, expect, it } from 'vitest';
import { componentOf, ID, longToken, reconcileOnce, withGround } from './harness.ts';

describe('a host whose probe output is longer than ListCommandInvocations returns', () => {
  it('is read in full through GetCommandInvocation and decided correctly', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'valid' }, guac: { token: 'valid' } } }] },
      async (ground) => {
        const exp = Math.floor(Date.now() / 1000) + 3600;
        await ground.fleet.writeToken(ID(1), 'guac', longToken(exp));
        const run = await reconcileOnce(ground, { dryRun: true });
        const probe = ground.steps.find((s) => s.run.instanceId === ID(1));
        expect(probe?.result.stdout.length).toBeGreaterThan(2500);
        expect(ground.awsCalls().GetCommandInvocation).toBeGreaterThanOrEqual(1);
        expect(componentOf(run, ID(1), 'guac')).toMatchObject({
          status: 'healthy',
          tokenExpiresAt: new Date(exp * 1000).toISOString(),
        });
        expect(componentOf(run, ID(1), 'agent')?.status).toBe('healthy');
      },
    );
  });
});
