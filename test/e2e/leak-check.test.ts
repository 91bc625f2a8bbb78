/**
 * The end-to-end leak check itself, on a real run: a token planted where the product
 * should never put it is named by `expectNoLeak`, place and form.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FleetState } from '../proving-ground/fleet.ts';
import { runOnce } from '../proving-ground/simulation.ts';
import type { StepResult } from '../proving-ground/types.ts';
import { expectCanariesIntact, expectCleanFleet, expectNoLeak, ID, TOKEN, withGround } from './harness.ts';

describe('the end-to-end leak check', () => {
  it('names a token planted in a step’s stderr, in the handler’s stderr and in a file left on a host', async () => {
    // Prepare: a host whose steps echo the token base64-encoded to stderr
    const echoing = {
      // The file planted below would fail the check withGround makes after the body: asserted here instead.
      plantsTokenFiles: true,
      tamper: (_: unknown, result: StepResult): StepResult => ({
        ...result,
        stderr: `${result.stderr}+ echo ${Buffer.from(TOKEN).toString('base64')}\n`,
      }),
    };
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'valid' } } }] },
      async (ground) => {
        // Prepare: and something writing it hex-encoded to stderr while the handler runs
        const logs: string[] = [];
        const stderr: string[] = [];

        // Act
        const result = await runOnce(
          ground,
          {},
          {
            onLog: (line) => logs.push(line),
            onStderr: (line) => stderr.push(line),
            loadHandler: async () => {
              const { createHandler } = await import('../../lambda/handler.ts');
              const handler = createHandler({ ...process.env, ...ground.handlerEnv });
              return async (event, context) => {
                process.stderr.write(`debug: ${Buffer.from(TOKEN).toString('hex')}\n`);
                return handler(event, context);
              };
            },
          },
        );
        const leftover = join(ground.fleet.hostRoot(ID(1)), 'tmp');
        mkdirSync(leftover, { recursive: true });
        writeFileSync(join(leftover, 'unsealed'), `${TOKEN}\n`);
        const run = { ...result, logs, stderr };

        // Assess: both plants are named, by place and form, and the message holds no token
        let message = '';
        try {
          expectNoLeak(ground, run);
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).toMatch(new RegExp(`step #\\d+ on ${ID(1)} stderr: base64 at byte \\d+`));
        expect(message).toContain('stderr line 1: hex at byte 7');
        expect(message).toContain(`host ${ID(1)} file tmp/unsealed: raw at byte 0`);
        expect(message.includes(TOKEN)).toBe(false);
        // Assess: the check every other e2e test gets after its body names the planted file too
        let fleetMessage = '';
        try {
          expectCleanFleet(ground);
        } catch (error) {
          fleetMessage = (error as Error).message;
        }
        expect(fleetMessage).toContain('/tmp/unsealed');
        expect(fleetMessage.includes(TOKEN)).toBe(false);
      },
      echoing,
    );
  });
});

describe('the canary check', () => {
  it('names every trap canary that is not intact, and passes components without a trap', () => {
    // Prepare
    const untrapped: FleetState = { [ID(2)]: { agent: { tokenValid: false, registrationFile: 'absent' } } };
    const fleet: FleetState = {
      [ID(1)]: {
        agent: { tokenValid: true, registrationFile: 'present', canary: 'intact' },
        guac: { tokenValid: true, registrationFile: 'absent', canary: 'changed' },
      },
      ...untrapped,
    };

    // Act
    let message = '';
    try {
      expectCanariesIntact(fleet);
    } catch (error) {
      message = (error as Error).message;
    }

    // Assess
    expect(message).toContain(`${ID(1)}/guac: changed`);
    expect(message).not.toContain(`${ID(1)}/agent`);
    expect(() => expectCanariesIntact(untrapped)).not.toThrow();
  });
});
