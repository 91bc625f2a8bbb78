/** A Kasm CA file the function cannot read is a run-level problem in the report, never a crash. */
import { describe, expect, it } from 'vitest';
import { createHandler } from '../../lambda/handler.ts';
import { ID, statusOf, withGround } from './harness.ts';

describe('a reconcile run whose Kasm CA file cannot be read', () => {
  it('reports the Kasm API unhealthy with the reason in errors and defers delivery', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expired' } } }] },
      async (ground) => {
        // Prepare
        const env = { ...ground.handlerEnv, KASM_CA_FILE: '/nonexistent/kasm-ca.pem' };
        const saved = { ...process.env };
        Object.assign(process.env, env);
        const rejections: unknown[] = [];
        const onRejection = (reason: unknown) => rejections.push(reason);
        process.on('unhandledRejection', onRejection);
        try {
          // Act
          const report = await createHandler({ ...process.env, ...env })({}, undefined);

          // Assess
          expect(report.kasmApi).toBe('unhealthy');
          expect(report.errors.join(' ')).toContain(
            'the Kasm CA file /nonexistent/kasm-ca.pem cannot be read',
          );
          expect(statusOf({ report } as never, ID(1), 'agent')).toBe('deferred');
          await new Promise((r) => setTimeout(r, 100));
          expect(rejections).toEqual([]);
        } finally {
          process.off('unhandledRejection', onRejection);
          for (const key of Object.keys(env)) delete process.env[key];
          Object.assign(process.env, saved);
        }
      },
    );
  });
});
