/** Every Linux status of the runbook (docs/operating.md), each reached through the real handler. */
import { utimesSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startedRecord } from '../start-events.ts';
import {
  componentOf,
  ID,
  reconcileOnce,
  sendCommands,
  stateDirEntries,
  statusOf,
  strayFiles,
  withGround,
} from './harness.ts';

describe('a reconcile run on Linux hosts', () => {
  it('recovers every component locked out past grace and leaves no key or file behind', async () => {
    await withGround(
      {
        hosts: [
          {
            id: ID(1),
            components: {
              agent: { token: 'expired' },
              guac: { token: 'expired' },
              rdp_gateway: { token: 'expired' },
              rdp_https_gateway: { token: 'expired' },
            },
          },
          { id: ID(2), components: { agent: { token: 'valid' } } },
        ],
      },
      async (ground) => {
        const run = await reconcileOnce(ground);
        // One embedded-metric-format line per run feeds the CloudWatch alarms.
        const emf = run.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => '_aws' in l);
        expect(emf).toHaveLength(1);
        expect(emf[0]).toMatchObject({ Recovered: 4, NeedingAttention: 0, RunNotOk: 0 });
        for (const name of ['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway']) {
          const component = componentOf(run, ID(1), name);
          expect(component?.status, name).toBe('recovered');
          expect(Date.parse(component?.tokenExpiresAt ?? '')).toBeGreaterThan(Date.now());
          expect(run.fleet[ID(1)]?.[name]).toMatchObject({ tokenValid: true, registrationFile: 'absent' });
        }
        expect(statusOf(run, ID(2), 'agent')).toBe('healthy');
        expect(run.report).toMatchObject({
          ok: true,
          kasmApi: 'healthy',
          totals: { recovered: 4, healthy: 1 },
        });
        expect(stateDirEntries(ground, ID(1))).toEqual([]);
        expect(stateDirEntries(ground, ID(2))).toEqual([]);
        expect(strayFiles(ground, ID(1), 'agent', 'agent.app.config.yaml')).toEqual([]);
        // Only the host that needed it was asked to make a key and got a push.
        expect(sendCommands(ground, 'push').flatMap((c) => c.ids)).toEqual([ID(1)]);
      },
    );
  });

  it('reports a component still inside its grace period as in-grace and does nothing', async () => {
    // A slower heartbeat keeps the simulated component from refreshing before the probe looks.
    await withGround(
      {
        kasm: { heartbeatSeconds: 4, gracePeriodSeconds: 60 },
        hosts: [{ id: ID(1), components: { guac: { token: 'in-grace' } } }],
      },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'guac')).toBe('in-grace');
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
    );
  });

  it('reports a token about to be refreshed by its component as healthy, and it is refreshed', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expiring' } } }] },
      async (ground) => {
        const before = ground.fleet.readToken(ID(1), 'agent');
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'agent')).toBe('healthy');
        expect(run.fleet[ID(1)]?.agent?.tokenValid).toBe(true);
        expect(ground.fleet.readToken(ID(1), 'agent')).not.toBe(before);
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
    );
  });

  it('reports pending with the file left 0600 when the component is stopped and cannot consume it', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expired', running: false } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        const agent = componentOf(run, ID(1), 'agent');
        expect(agent?.status).toBe('pending');
        expect(agent?.reason).toContain('not running');
        expect(run.fleet[ID(1)]?.agent).toMatchObject({
          tokenValid: false,
          registrationFile: 'present',
          registrationFileMode: '0600',
        });
        const file = ground.fleet.registrationFile(ID(1), 'agent');
        expect(file?.uid).toBe(1000);
        expect(file?.content.trim()).toBe(ground.scenario.registrationToken?.trim());
      },
    );
  });

  it('reports stuck when a registration file has waited far longer than a heartbeat, and does not push again', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expired', running: false } } }] },
      async (ground) => {
        const path = ground.fleet.registrationFilePath(ID(1), 'agent');
        writeFileSync(path, 'old-registration-token\n', { mode: 0o600 });
        const hourAgo = Date.now() / 1000 - 3600;
        utimesSync(path, hourAgo, hourAgo);
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'agent')).toBe('stuck');
        expect(componentOf(run, ID(1), 'agent')?.reason).toMatch(/waited \d+s unconsumed/);
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
    );
  });

  it('reports needs-redeploy for a config without a token and delivers nothing', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'missing' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'agent')).toBe('needs-redeploy');
        expect(run.fleet[ID(1)]?.agent?.registrationFile).toBe('absent');
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
    );
  });

  it('reports unreadable for a token that is not a JWT and delivers nothing', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { rdp_gateway: { token: 'garbage' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'rdp_gateway')).toBe('unreadable');
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
    );
  });

  it('reports an offline host unreachable without sending it any command', async () => {
    await withGround(
      {
        hosts: [
          { id: ID(1), online: false, components: { agent: { token: 'expired' } } },
          { id: ID(2), components: { agent: { token: 'valid' } } },
        ],
      },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(statusOf(run, ID(1), 'agent')).toBe('unreachable');
        expect(run.report.hosts.find((h) => h.instanceId === ID(1))?.reason).toContain('offline');
        expect(sendCommands(ground, 'probe').flatMap((c) => c.ids)).not.toContain(ID(1));
        expect(statusOf(run, ID(2), 'agent')).toBe('healthy');
        // One offline host is one host, named in full, not four unreachable components.
        expect(run.report.hosts.find((h) => h.instanceId === ID(1))?.status).toBe('unreachable');
        expect(run.report.totals).toStrictEqual({ healthy: 1 });
        expect(run.report.hostTotals).toStrictEqual({ examined: 1, unreachable: 1 });
        expect((run.report as { summary?: string }).summary).toBe(`1 healthy; 1 host unreachable (${ID(1)})`);
      },
    );
  });

  it('never lists or touches a host without the fleet tag', async () => {
    await withGround(
      { hosts: [{ id: ID(1), managed: false, components: { agent: { token: 'expired' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(run.report.hosts).toEqual([]);
        expect(ground.steps).toEqual([]);
        expect(run.fleet[ID(1)]?.agent?.tokenValid).toBe(false);
      },
    );
  });

  it('plans without changing anything in a dry run', async () => {
    await withGround(
      { hosts: [{ id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'valid' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground, { dryRun: true });
        expect(run.report.dryRun).toBe(true);
        expect(statusOf(run, ID(1), 'agent')).toBe('would-push');
        expect(statusOf(run, ID(1), 'guac')).toBe('healthy');
        expect(sendCommands(ground, 'push')).toEqual([]);
        expect(sendCommands(ground, 'probe').map((c) => c.params.KeyPair)).toEqual([['none']]);
        expect(stateDirEntries(ground, ID(1))).toEqual([]);
        expect(run.fleet[ID(1)]?.agent).toMatchObject({ tokenValid: false, registrationFile: 'absent' });
      },
    );
  });

  it('defers delivery while the Kasm Admin API is unhealthy', async () => {
    await withGround(
      { kasm: { healthy: false }, hosts: [{ id: ID(1), components: { agent: { token: 'expired' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground);
        expect(run.report.kasmApi).toBe('unhealthy');
        expect(statusOf(run, ID(1), 'agent')).toBe('deferred');
        expect(run.report.errors.join(' ')).toContain('unhealthy');
        expect(sendCommands(ground, 'push')).toEqual([]);
        expect(run.fleet[ID(1)]?.agent?.registrationFile).toBe('absent');
      },
    );
  });

  it('reconciles only the named instances', async () => {
    await withGround(
      {
        hosts: [1, 2, 3].map((n) => ({ id: ID(n), components: { agent: { token: 'expired' } } })),
      },
      async (ground) => {
        const run = await reconcileOnce(ground, { instanceIds: [ID(2), 'i-0fffffffffffffff0'] });
        expect(run.report.hosts.map((h) => h.instanceId)).toEqual([ID(2)]);
        expect(statusOf(run, ID(2), 'agent')).toBe('recovered');
        expect(run.fleet[ID(1)]?.agent?.tokenValid).toBe(false);
        expect(run.fleet[ID(3)]?.agent?.tokenValid).toBe(false);
        expect(run.report.errors.join(' ')).toContain('i-0fffffffffffffff0');
        expect(ground.steps.every((s) => s.run.instanceId === ID(2))).toBe(true);
      },
    );
  });

  it('reconciles the instances of a batched SQS start event', async () => {
    await withGround(
      { hosts: [1, 2].map((n) => ({ id: ID(n), components: { agent: { token: 'expired' } } })) },
      async (ground) => {
        const run = await reconcileOnce(ground, {
          Records: [startedRecord(ID(1), 'm-1')],
        });
        expect(run.report.trigger).toBe('instance-start');
        expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
        expect(run.fleet[ID(2)]?.agent?.tokenValid).toBe(false);
      },
    );
  });
});

describe('a run short of Lambda time', () => {
  it('reports the hosts it could not reach before its deadline instead of dropping them', async () => {
    await withGround(
      { hosts: [1, 2].map((n) => ({ id: ID(n), components: { agent: { token: 'expired' } } })) },
      async (ground) => {
        // 20 s of margin is kept for reporting, so 19 s remaining leaves no time to probe.
        const run = await reconcileOnce(ground, {}, { context: { getRemainingTimeInMillis: () => 19_000 } });
        for (const n of [1, 2]) {
          const agent = componentOf(run, ID(n), 'agent');
          expect(agent?.status).toBe('failed');
          expect(agent?.reason).toContain('deadline');
        }
        expect(sendCommands(ground, 'push')).toEqual([]);
      },
    );
  });
});

describe('an instance-start run', () => {
  it('does not wait for, or complain about, started instances outside the fleet', async () => {
    await withGround(
      {
        hosts: [
          { id: ID(1), components: { agent: { token: 'expired' } } },
          { id: ID(2), managed: false, components: { agent: { token: 'expired' } } },
        ],
      },
      async (ground) => {
        const run = await reconcileOnce(ground, { Records: [startedRecord(ID(1)), startedRecord(ID(2))] });
        expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
        expect(run.report.hosts.map((h) => h.instanceId)).toEqual([ID(1)]);
        expect(run.report.errors).toEqual([]);
        // One inventory call: nothing was polled while waiting for an instance that will never be listed.
        expect(ground.awsCalls().DescribeInstanceInformation).toBe(1);
      },
    );
  });

  it('waits for a fleet instance whose agent is not online yet, then reports it unreachable', async () => {
    await withGround(
      { hosts: [{ id: ID(1), online: false, components: { agent: { token: 'expired' } } }] },
      async (ground) => {
        const run = await reconcileOnce(ground, { Records: [startedRecord(ID(1))] });
        expect(statusOf(run, ID(1), 'agent')).toBe('unreachable');
        expect(ground.awsCalls().DescribeInstanceInformation).toBeGreaterThan(1);
      },
    );
  });
});
