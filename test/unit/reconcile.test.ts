/**
 * The reconcile loop, step by step, against an in-memory fleet: fast, no proving ground.
 * The end-to-end tests prove the same against the wire-level fake AWS and real scripts.
 */
import { describe, expect, it } from 'vitest';
import { startBatch } from '../start-events.ts';
import { componentOf, ID, loopSetup, run, TOKEN } from './loop-fixture.ts';

const setup = loopSetup;
const statusOf = componentOf;

describe('a full reconcile pass', () => {
  it('recovers a component expired past grace and delivers to no other component of its host', async () => {
    // Prepare
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() }, guac: {} });
    // Act
    const report = await run({}, deps());
    // Assess
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(statusOf(report, ID(1), 'guac')?.status).toBe('healthy');
    expect(fleet.component(ID(1), 'agent')?.received).toBe(TOKEN);
    expect(fleet.component(ID(1), 'guac')?.received).toBeUndefined();
    expect(report.totals).toEqual({ recovered: 1, healthy: 1 });
  });

  it('settles every component exactly once, so no status is set and then overwritten', async () => {
    const { fleet, deps, expired } = setup();
    for (let n = 1; n <= 120; n++) {
      fleet.add(ID(n), { agent: { token: n % 3 === 0 ? expired() : fleet.nowSeconds() + 600 }, guac: {} });
    }
    const report = await run({}, deps());
    const names = report.hosts.flatMap((h) => h.components.map((c) => `${h.instanceId}/${c.name}`));
    expect(new Set(names).size).toBe(names.length);
    expect(names).toHaveLength(240);
    expect(report.totals).toEqual({ recovered: 40, healthy: 200 });
    // 120 hosts: three probe batches; 40 deliveries: one prepare and one push batch.
    expect(fleet.runs.map((r) => `${r.role}:${r.instanceIds.length}`)).toEqual([
      'probe:50',
      'probe:50',
      'probe:20',
      'probe:40',
      'push:40',
    ]);
  });

  it('runs the document version the stack deployed, never $DEFAULT', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    await run({}, deps());
    expect(fleet.runs.map((r) => r.documentVersion)).toEqual(['1', '1', '1']);
  });

  it('predicts a delivery on a dry run and sends neither a key request nor a push', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const report = await run({ dryRun: true }, deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('would-push');
    expect(fleet.runs.map((r) => [r.role, r.parameters.KeyPair?.[0]])).toEqual([['probe', 'none']]);
  });

  it('defers deliveries while the Kasm Admin API is unhealthy', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const report = await run(
      {},
      deps({ checkKasm: async () => ({ health: 'unhealthy', detail: 'HTTP 502' }) }),
    );
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('deferred');
    expect(report.errors.join(' ')).toContain('HTTP 502');
  });

  it('reports an unreadable secret as a failed run that delivered nothing', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const report = await run(
      {},
      deps({ readSecret: async () => ({ ok: false, problem: 'The secret is gone.' }) }),
    );
    expect(report.ok).toBe(false);
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('failed');
    expect(fleet.runs.filter((r) => r.role === 'push')).toEqual([]);
  });

  it('turns a health check that throws into an unhealthy API instead of a crash', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    const report = await run(
      {},
      deps({ checkKasm: async () => Promise.reject(new Error('ENOENT: ca.pem')) }),
    );
    expect(report.kasmApi).toBe('unhealthy');
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('healthy');
  });

  it('takes a component that recovered between observe and prepare as it now is', async () => {
    const { fleet, deps, expired } = setup();
    const host = fleet.add(ID(1), { agent: { token: expired() } });
    const original = fleet.runDocument.bind(fleet);
    fleet.runDocument = async (r) => {
      if (r.parametersFor([ID(1)]).KeyPair?.[0] === 'create') {
        const agent = host.components.get('agent');
        if (agent) agent.token = fleet.nowSeconds() + 3600;
      }
      return original(r);
    };
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('healthy');
    expect(fleet.runs.filter((r) => r.role === 'push')).toEqual([]);
  });
});

describe('hosts that cannot unseal a sealed token', () => {
  it("sends them no token and says what each lacks in its own platform's terms", async () => {
    // Prepare
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } }, { canUnseal: false });
    fleet.add(ID(2), { windows: { token: expired() } }, { platform: 'Windows', canUnseal: false });

    // Act
    const report = await run({}, deps());

    // Assess
    expect(statusOf(report, ID(1), 'agent')).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/^openssl is not installed on the host/),
    });
    const windows = statusOf(report, ID(2), 'windows');
    expect(windows).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/^\.NET on the host has no RSA-OAEP-SHA256/),
    });
    expect(windows?.reason).not.toContain('openssl');
    expect(fleet.runs.map((r) => r.role)).toEqual(['probe']);
  });

  it('names .NET, not openssl, for a Windows host that lost the ability between observe and prepare', async () => {
    // Prepare
    const { fleet, deps, expired } = setup();
    const host = fleet.add(ID(1), { windows: { token: expired() } }, { platform: 'Windows' });
    const original = fleet.runDocument.bind(fleet);
    fleet.runDocument = async (r) => {
      if (r.parametersFor([ID(1)]).KeyPair?.[0] === 'create') host.canUnseal = false;
      return original(r);
    };

    // Act
    const report = await run({}, deps());

    // Assess
    expect(statusOf(report, ID(1), 'windows')?.reason).toMatch(/^\.NET on the host has no RSA-OAEP-SHA256/);
    expect(fleet.runs.filter((r) => r.role === 'push')).toEqual([]);
  });
});

describe('hosts that cannot be asked', () => {
  it('lists an offline host as unreachable without sending it anything', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} }, { online: false });
    const report = await run({}, deps());
    expect(report.hosts[0]?.components.map((c) => c.status)).toEqual([
      'unreachable',
      'unreachable',
      'unreachable',
      'unreachable',
    ]);
    expect(fleet.runs).toEqual([]);
  });

  it('fails a host whose SSM Agent is older than 3.3.2746.0, naming the version and the fix', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } }, { agentVersion: '3.2.582.0' });
    const report = await run({}, deps());
    const agent = statusOf(report, ID(1), 'agent');
    expect(agent?.status).toBe('failed');
    expect(agent?.reason).toContain('3.2.582.0');
    expect(agent?.reason).toContain('AWS-UpdateSSMAgent');
    expect(fleet.runs).toEqual([]);
  });

  it('reports a host whose command was never delivered as unreachable, and the others as usual', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(
      ID(1),
      { agent: { token: expired() } },
      { answer: { kind: 'unreachable', detail: 'DeliveryTimedOut' } },
    );
    fleet.add(ID(2), { agent: { token: expired() } });
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('unreachable');
    expect(statusOf(report, ID(1), 'agent')?.reason).toContain('DeliveryTimedOut');
    expect(statusOf(report, ID(2), 'agent')?.status).toBe('recovered');
  });
});

describe('named and started hosts', () => {
  it('reconciles only the named hosts and names the ones outside the fleet without failing the run', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(2), { agent: { token: expired() } });
    const report = await run({ instanceIds: [ID(1), ID(9)] }, deps());
    expect(report.ok).toBe(true);
    expect(report.hosts.map((h) => h.instanceId)).toEqual([ID(1)]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toContain(ID(9));
    expect(fleet.component(ID(2), 'agent')?.received).toBeUndefined();
  });

  it('spends no wait on a started instance outside the fleet', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(2), { agent: { token: expired() } }, { listed: false, ec2Tagged: false });
    const report = await run(startBatch([ID(1), ID(2)]), deps());
    expect(report.hosts.map((h) => h.instanceId)).toEqual([ID(1)]);
    expect(report.errors).toEqual([]);
    expect(fleet.listCalls).toBe(1);
  });

  it('waits for a started fleet instance until its agent checks in, then recovers it', async () => {
    const { fleet, deps, expired } = setup({ COMMAND_POLL_INTERVAL_MS: '1000' });
    const host = fleet.add(ID(1), { agent: { token: expired() } }, { listed: false });
    fleet.beforeListing = (calls) => {
      if (calls >= 3) host.listed = true;
    };
    const report = await run(startBatch([ID(1)]), deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(fleet.listCalls).toBe(3);
  });

  it('has started hosts make their sealing key while observed, saving the prepare round trip', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(2), { agent: {} });
    const report = await run(startBatch([ID(1), ID(2)]), deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(statusOf(report, ID(2), 'agent')?.status).toBe('healthy');
    expect(fleet.runs.map((r) => [r.role, r.parameters.KeyPair?.[0]])).toEqual([
      ['probe', 'create'],
      ['push', undefined],
    ]);
  });

  it('names a started fleet instance that never checks in within the wait, for the next scheduled run', async () => {
    const { fleet, deps, expired } = setup({ ONLINE_WAIT_SECONDS: '2', COMMAND_POLL_INTERVAL_MS: '1000' });
    fleet.add(ID(1), { agent: { token: expired() } }, { listed: false });
    const report = await run(startBatch([ID(1)]), deps());
    expect(report.hosts).toEqual([]);
    expect(report.errors[0]).toContain(ID(1));
    expect(report.errors[0]).toContain('did not check in');
  });
});

describe('a run short of time', () => {
  it('probes nothing after its deadline and reports every host as left for the next run', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    const report = await run({}, deps({ deadlineAt: Date.now() - 1 }));
    expect(statusOf(report, ID(1), 'agent')?.reason).toContain('next run');
    expect(fleet.runs).toEqual([]);
  });

  it('starts no push without time for it to be picked up and finish', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    // 30 s pick-up plus 15 s of push overhead do not fit in 40 s.
    const report = await run({}, deps({ deadlineAt: Date.now() + 40_000 }));
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('failed');
    expect(statusOf(report, ID(1), 'agent')?.reason).toContain('next run');
    expect(fleet.runs.map((r) => r.role)).toEqual(['probe', 'probe']);
  });

  it('shortens the wait on the host to the time left instead of overrunning the deadline', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    await run({}, deps({ deadlineAt: Date.now() + 60_000 }));
    const wait = Number(fleet.runs.find((r) => r.role === 'push')?.parameters.WaitSeconds?.[0]);
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(15);
  });
});

describe('an instance-start run over hosts that check in at different times', () => {
  it('sends the hosts online first through the steps without waiting for the last to check in', async () => {
    const { fleet, deps, expired } = setup({ COMMAND_POLL_INTERVAL_MS: '200' });
    fleet.add(ID(1), { agent: { token: expired() } });
    const late = fleet.add(ID(2), { agent: { token: expired() } }, { listed: false });
    let pushesBeforeLateListed = 0;
    fleet.beforeListing = (calls) => {
      if (calls === 6) {
        pushesBeforeLateListed = fleet.runs.filter((r) => r.role === 'push').length;
        late.listed = true;
      }
    };
    const report = await run(startBatch([ID(1), ID(2)]), deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(statusOf(report, ID(2), 'agent')?.status).toBe('recovered');
    // The first host had its push before the second one was even listed.
    expect(pushesBeforeLateListed).toBe(1);
    expect(fleet.runs.filter((r) => r.role === 'push').map((r) => r.instanceIds)).toEqual([[ID(1)], [ID(2)]]);
  });
});
