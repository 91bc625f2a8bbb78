/** Probe output past the 2,500 characters ListCommandInvocations returns per plugin. */
import { describe, expect, it } from 'vitest';
import { componentOf, ID, reconcileOnce, withGround } from './harness.ts';

/** A JWT whose payload is long, as with a large authorizations list; only header.payload is read. */
function longToken(exp: number): string {
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const authorizations = Array.from({ length: 400 }, (_, i) => 100 + i);
  return `${enc({ alg: 'RS256', typ: 'JWT' })}.${enc({ exp, connection_proxy_id: 'p', authorizations })}.c2ln`;
}

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
