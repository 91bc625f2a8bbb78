/** What bad input gets (issue: "What bad input gets"), each through the real handler. */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../shared/event-schema.ts';
import { runOnce } from '../proving-ground/simulation.ts';
import {
  componentOf,
  expectNoLeak,
  ID,
  reconcileOnce,
  sendCommands,
  stateDirEntries,
  statusOf,
  withGround,
} from './harness.ts';

const lockedOut = (n: number, extra: Record<string, unknown> = {}) => ({
  id: ID(n),
  components: { agent: { token: 'expired', ...extra } },
});

describe('an invalid console event', () => {
  it('is rejected naming the field, and nothing is done', async () => {
    await withGround({ hosts: [lockedOut(1)] }, async (ground) => {
      const attempt = runOnce(ground, { instanceIds: ['i-nothex'] });
      await expect(attempt).rejects.toThrow(InvalidEventError);
      await expect(attempt).rejects.toThrow(/instanceIds\[0\]/);
      expect(ground.aws.calls).toEqual([]);
      expect(ground.fleetState()[ID(1)]?.agent?.tokenValid).toBe(false);
    });
  });
});

describe('an unusable registration token secret', () => {
  it.each([
    ['missing', null, 'does not exist'],
    ['empty', '', 'is empty'],
    ['blank lines only', '\n\n', 'is empty'],
    ['multi-line', 'MjAyNzk0MmUtZjQz\nMS00NDZlLWFkODMt\n', 'more than one line'],
  ])(
    '(%s) makes the run not ok with a sentence naming the secret, and delivers nothing',
    async (_, secret, problem) => {
      await withGround(
        {
          registrationToken: secret,
          hosts: [lockedOut(1), { id: ID(2), components: { guac: { token: 'valid' } } }],
        },
        async (ground) => {
          const run = await reconcileOnce(ground);
          expect(run.report.ok).toBe(false);
          const error = run.report.errors.find((e) => e.includes(ground.info.secretId));
          expect(error).toContain(problem);
          expect(error).toContain('Nothing was delivered');
          expect(statusOf(run, ID(1), 'agent')).toBe('failed');
          expect(statusOf(run, ID(2), 'guac')).toBe('healthy');
          expect(sendCommands(ground, 'push')).toEqual([]);
          expect(run.fleet[ID(1)]?.agent?.registrationFile).toBe('absent');
          if (secret?.trim()) expectNoLeak(ground, run, secret.split('\n')[0] ?? '');
        },
      );
    },
  );
});

describe('a host that cannot take the delivery', () => {
  it('without openssl is failed with the reason, gets no key and no file', async () => {
    await withGround({ hosts: [{ ...lockedOut(1), opensslMissing: true }, lockedOut(2)] }, async (ground) => {
      const run = await reconcileOnce(ground);
      expect(statusOf(run, ID(1), 'agent')).toBe('failed');
      expect(componentOf(run, ID(1), 'agent')?.reason).toContain('openssl is not installed');
      expect(run.fleet[ID(1)]?.agent?.registrationFile).toBe('absent');
      expect(stateDirEntries(ground, ID(1))).toEqual([]);
      expect(statusOf(run, ID(2), 'agent')).toBe('recovered');
    });
  });

  it('with a read-only config directory is failed with the reason, and no partial file is left', async () => {
    await withGround(
      {
        hosts: [
          {
            id: ID(1),
            components: { agent: { token: 'expired', readOnly: true }, guac: { token: 'expired' } },
          },
        ],
      },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'agent')).toBe('failed');
        expect(componentOf(run, ID(1), 'agent')?.reason).toContain('not writable');
        expect(readdirSync(dirname(ground.fleet.configPath(ID(1), 'agent')))).toEqual([
          'agent.app.config.yaml',
        ]);
        // The other component on the same host is still recovered.
        expect(statusOf(run, ID(1), 'guac')).toBe('recovered');
        expect(stateDirEntries(ground, ID(1))).toEqual([]);
      },
    );
  });

  it('that prints garbage is failed and the run goes on for the others', async () => {
    await withGround(
      { hosts: [lockedOut(1), lockedOut(2)] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'agent')).toBe('failed');
        expect(run.report.hosts.find((h) => h.instanceId === ID(1))?.reason).toContain('not understood');
        expect(statusOf(run, ID(2), 'agent')).toBe('recovered');
        expect(run.report.ok).toBe(true);
      },
      {
        tamper: (step, result) =>
          step.instanceId === ID(1) ? { ...result, stdout: 'Segmentation fault\n\x00\x01 ktr?' } : result,
      },
    );
  });
});

describe('a host that made no key while observed and answers the prepare step with garbage', () => {
  it('fails only the components planned for delivery and keeps what the first probe found', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'valid' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(componentOf(run, ID(1), 'agent')).toMatchObject({ status: 'failed' });
        expect(componentOf(run, ID(1), 'agent')?.reason).toContain(
          'prepare output from this host was not understood',
        );
        expect(statusOf(run, ID(1), 'guac')).toBe('healthy');
        expect(run.report.hosts[0]?.components.map((c) => c.name)).toEqual(['agent', 'guac']);
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
      {
        // The host makes no key while observed (as one whose clock lags would not), so it is prepared apart,
        // and answers that prepare with garbage.
        tamper: (step, result) =>
          step.env.SSM_KeyPair === 'create'
            ? { ...result, stdout: 'garbage\n' }
            : { ...result, stdout: result.stdout.replace(/^key .*\n/m, '') },
      },
    );
  });
});

describe('AWS throttling and 5xx storms', () => {
  it('are ridden out by the SDK retries and end with the same fleet as a run without faults', async () => {
    const hosts = [1, 2, 3, 4, 5, 6].map((n) => lockedOut(n));
    const clean = await withGround({ hosts }, (ground) => reconcileOnce(ground));
    const stormy = await withGround(
      { hosts, faults: { throttleRate: 0.3, serverErrorRate: 0.1 } },
      async (ground) => {
        const run = await reconcileOnce(ground);
        const faulted = ground.aws.calls.filter((c) => c.status !== 200);
        expect(faulted.some((c) => c.errorType === 'ThrottlingException')).toBe(true);
        expect(faulted.some((c) => c.status >= 500)).toBe(true);
        return run;
      },
    );
    expect(stormy.report.ok).toBe(true);
    expect(stormy.report.totals).toEqual(clean.report.totals);
    expect(stormy.fleet).toEqual(clean.fleet);
    expect(stormy.report.totals).toEqual({ recovered: 6 });
  });
});
