/** The deployed artifact, not the TypeScript source: the bundle synth produces, on the proving ground. */
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { synthBundledHandler } from '../../infra/bundle-for-test.ts';
import type { ReconcileHandler } from '../../lambda/handler.ts';
import { ID, reconcileOnce, sendCommands, statusOf, withGround } from './harness.ts';

describe('the bundled handler', () => {
  it('recovers a locked-out host and reports a healthy one, exactly as the source does', async () => {
    const bundle = await synthBundledHandler();
    expect(bundle).toMatch(/asset\.[0-9a-f]+\/index\.mjs$/);
    await withGround(
      {
        hosts: [
          { id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'expired' } } },
          { id: ID(2), components: { agent: { token: 'valid' } } },
        ],
      },
      async (ground) => {
        const run = await reconcileOnce(
          ground,
          {},
          {
            loadHandler: async (env) => {
              const module = (await import(pathToFileURL(bundle).href)) as {
                createHandler: (e: object) => ReconcileHandler;
              };
              return module.createHandler(env);
            },
          },
        );
        expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
        expect(statusOf(run, ID(1), 'guac')).toBe('recovered');
        expect(statusOf(run, ID(2), 'agent')).toBe('healthy');
        expect(run.fleet[ID(1)]?.agent?.tokenValid).toBe(true);
        expect(sendCommands(ground, 'push')).toHaveLength(1);
        // The bundle's logger wrote structured lines that were captured, and they ended with the report.
        expect(run.logs.some((l) => l.includes('"message":"run report"'))).toBe(true);
      },
    );
  });
});
