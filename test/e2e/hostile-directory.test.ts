/**
 * The push as root in config directories that belong to an unprivileged account that attacks it
 * (scenario `trap`, test/proving-ground/README.md): whatever the owner does, root writes nothing outside the
 * directory, every root-owned canary stays intact, and the token ends up in no file but a regular
 * registration_token.txt (the harness checks `strayTokenFiles` after every run).
 */
import { lstatSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import { componentOf, ID, reconcileOnce, stateDirEntries, withGround } from './harness.ts';

const LINUX = ['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const;

describe('a reconcile run against config directories whose owner attacks the push', () => {
  it('fails a component whose registration_token.txt is a directory, writing nothing into it', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expired', trap: 'dir' } } }] },
      async (ground) => {
        // Act
        const run = await reconcileOnce(ground);

        // Assess
        const agent = componentOf(run, ID(1), 'agent');
        expect(agent?.status).toBe('failed');
        expect(agent?.reason).toMatch(/not a regular file/);
        const trapDir = ground.fleet.registrationFilePath(ID(1), 'agent');
        expect(lstatSync(trapDir).isDirectory()).toBe(true);
        expect(readdirSync(trapDir)).toEqual([]);
        expect(run.fleet[ID(1)]?.agent?.canary).toBe('intact');
        expect(run.strayTokenFiles).toEqual({});
        expect(stateDirEntries(ground, ID(1))).toEqual([]);
      },
    );
  });

  it('fails a component whose registration_token.txt is a symlink to a root-owned file, leaving that file intact', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { guac: { token: 'expired', trap: 'symlink' } } }] },
      async (ground) => {
        // Act
        const run = await reconcileOnce(ground);

        // Assess
        const guac = componentOf(run, ID(1), 'guac');
        expect(guac?.status).toBe('failed');
        expect(guac?.reason).toMatch(/not a regular file/);
        expect(lstatSync(ground.fleet.registrationFilePath(ID(1), 'guac')).isSymbolicLink()).toBe(true);
        expect(run.fleet[ID(1)]?.guac?.canary).toBe('intact');
        expect(run.strayTokenFiles).toEqual({});
      },
    );
  });

  it('keeps every canary intact and the token out of every other file while the owner races twenty pushes', async () => {
    await withGround(
      {
        hosts: [
          {
            id: ID(1),
            components: Object.fromEntries(LINUX.map((name) => [name, { token: 'expired', trap: 'race' }])),
          },
        ],
      },
      async (ground) => {
        const outcomes: string[] = [];
        // Five runs, four raced components each: twenty pushes.
        for (let round = 0; round < 5; round++) {
          // Prepare: clear the symlinks the attacker left, so that every run delivers and is raced again.
          for (const name of LINUX) {
            const dir = dirname(ground.fleet.configPath(ID(1), name));
            for (const entry of readdirSync(dir)) {
              if (lstatSync(join(dir, entry)).isSymbolicLink()) rmSync(join(dir, entry));
            }
          }
          for (const name of LINUX)
            await ground.fleet.writeToken(ID(1), name, await expiredToken(ground, name));

          // Act
          const run = await reconcileOnce(ground);

          // Assess
          for (const name of LINUX) {
            const component = componentOf(run, ID(1), name);
            outcomes.push(component?.status ?? 'none');
            // The owner wins or loses the race; either way root wrote nowhere else.
            expect(['failed', 'recovered', 'pending'], `${name}: ${component?.reason}`).toContain(
              component?.status,
            );
            expect(run.fleet[ID(1)]?.[name]?.canary, name).toBe('intact');
          }
          expect(run.strayTokenFiles).toEqual({});
        }
        expect(outcomes).toHaveLength(20);
        expect(outcomes).toContain('failed');
      },
    );
    // Five full runs: about 35 s alone, more on a busy machine.
  }, 240_000);

  it('gives the writer none of the directory group: root group canaries stay intact in a root-group (0770) directory raced by its owner', async () => {
    await withGround(
      {
        hosts: [
          {
            id: ID(1),
            components: Object.fromEntries(
              LINUX.map((name) => [name, { token: 'expired', trap: 'race-group' }]),
            ),
          },
        ],
      },
      async (ground) => {
        const outcomes: string[] = [];
        for (let round = 0; round < 3; round++) {
          // Prepare: clear what the attacker left, so that every run delivers and is raced again.
          await resetRace(ground);

          // Act
          const run = await reconcileOnce(ground);

          // Assess
          for (const name of LINUX) {
            const component = componentOf(run, ID(1), name);
            outcomes.push(`${component?.status}: ${component?.reason ?? ''}`);
            expect(['failed', 'recovered', 'pending'], `${name}: ${component?.reason}`).toContain(
              component?.status,
            );
            expect(run.fleet[ID(1)]?.[name]?.canary, name).toBe('intact');
          }
          expect(run.strayTokenFiles).toEqual({});
        }
        // Assess: the trap was not idle. Its attacker won races: a writer whose temp file it swapped for a
        // link to the canary could not write through it (write-failed; untouched, every push recovers).
        expect(outcomes).toHaveLength(12);
        expect(outcomes.filter((o) => /^failed: writing registration_token\.txt failed/.test(o))).not.toEqual(
          [],
        );
      },
    );
  }, 240_000);

  it("never waits on a config its owner keeps swapping for a FIFO, and still recovers the host's other components", async () => {
    await withGround(
      {
        hosts: [
          {
            id: ID(1),
            components: {
              agent: { token: 'expired', trap: 'fifo' },
              guac: { token: 'expired' },
              rdp_gateway: { token: 'expired', trap: 'fifo' },
            },
          },
        ],
      },
      async (ground) => {
        for (let round = 0; round < 3; round++) {
          // Prepare: every component locked out again (between steps the owner rests).
          for (const name of ['agent', 'guac', 'rdp_gateway'] as const)
            await ground.fleet.writeToken(ID(1), name, await expiredToken(ground, name));
          const started = Date.now();

          // Act
          const run = await reconcileOnce(ground);

          // Assess: the probe and the push answered (a blocked read would have held the host's whole
          // command until its timeout), so the host's untrapped component recovered in a normal run time.
          expect(componentOf(run, ID(1), 'guac'), JSON.stringify(run.report.hosts)).toMatchObject({
            status: 'recovered',
          });
          for (const name of ['agent', 'rdp_gateway'] as const) {
            // Whatever the probe caught: the config moved aside (left out), a FIFO (unreadable), the file.
            const component = componentOf(run, ID(1), name);
            expect([undefined, 'unreadable', 'failed', 'recovered', 'pending'], name).toContain(
              component?.status,
            );
            expect(component?.reason ?? '', name).not.toMatch(/timed out|did not finish|not understood/);
            expect(run.fleet[ID(1)]?.[name]?.canary, name).toBe('intact');
          }
          expect(Date.now() - started).toBeLessThan(30_000);
        }
      },
    );
  }, 240_000);
});

/** Removes the symlinks a race attacker left and makes every component expired again. */
async function resetRace(ground: ProvingGround): Promise<void> {
  for (const name of LINUX) {
    const dir = dirname(ground.fleet.configPath(ID(1), name));
    for (const entry of readdirSync(dir)) {
      if (lstatSync(join(dir, entry)).isSymbolicLink()) rmSync(join(dir, entry));
    }
    await ground.fleet.writeToken(ID(1), name, await expiredToken(ground, name));
  }
}

/** A token past grace for `name`, minted by the proving ground's Admin API. */
function expiredToken(ground: ProvingGround, name: string): Promise<string> {
  const { tokenLifetimeSeconds, gracePeriodSeconds } = ground.scenario.kasm;
  return ground.api.mintToken(
    name as never,
    -(tokenLifetimeSeconds + gracePeriodSeconds),
    crypto.randomUUID(),
  );
}
