/**
 * The reconcile loop, step by step, against an in-memory fleet: fast, no proving ground.
 * The end-to-end tests prove the same against the wire-level fake AWS and real scripts.
 */
import { describe, expect, it } from 'vitest';
import type { DocumentRun } from '../../lambda/fleet-api.ts';
import { REDACTED, redact } from '../../lambda/redaction.ts';
import { LEFT_FOR_NEXT_RUN } from '../../lambda/steps/context.ts';
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
    // 120 hosts: three probe batches, the locked-out hosts making their keys meanwhile; 40 deliveries:
    // one push batch, and no prepare round.
    expect(fleet.runs.map((r) => `${r.role}:${r.instanceIds.length}`)).toEqual([
      'probe:50',
      'probe:50',
      'probe:20',
      'push:40',
    ]);
    expect(fleet.runs[0]?.parameters).toMatchObject({ KeyPair: ['auto'], GraceSeconds: ['60'] });
  });

  it('runs the document version the stack deployed, never $DEFAULT', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    await run({}, deps());
    expect(fleet.runs.map((r) => r.documentVersion)).toEqual(['1', '1']);
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
    // A host whose clock lags by two hours made no key while observed, so prepare probes it again.
    const { fleet, deps, expired } = setup();
    const host = fleet.add(ID(1), { agent: { token: expired() } }, { clockSkewSeconds: -7200 });
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
    const host = fleet.add(
      ID(1),
      { windows: { token: expired() } },
      { platform: 'Windows', clockSkewSeconds: -7200 },
    );
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

  it('reconciles a host whose SSM Agent is older than 3.3.2746.0 like any other, naming its version in the report', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } }, { agentVersion: '3.2.582.0' });
    fleet.add(ID(2), { agent: { token: expired() } });
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(report.hosts.map((h) => [h.instanceId, h.agentVersion])).toEqual([
      [ID(1), '3.2.582.0'],
      [ID(2), undefined],
    ]);
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

  it('has locked-out hosts make their sealing key while observed, saving the prepare round trip', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(2), { agent: {} });
    const report = await run(startBatch([ID(1), ID(2)]), deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(statusOf(report, ID(2), 'agent')?.status).toBe('healthy');
    expect(fleet.runs.map((r) => [r.role, r.parameters.KeyPair?.[0]])).toEqual([
      ['probe', 'auto'],
      ['push', undefined],
    ]);
    expect(fleet.hosts.get(ID(2))?.key).toBeUndefined();
  });

  it('probes again, alone, a host whose clock lags so far that it saw no component locked out', async () => {
    // Prepare: host 1's clock is two hours behind the function's; host 2's agrees
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } }, { clockSkewSeconds: -7200 });
    fleet.add(ID(2), { agent: { token: expired() } });

    // Act
    const report = await run({}, deps());

    // Assess: both recovered; only host 1 had the prepare round
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(statusOf(report, ID(2), 'agent')?.status).toBe('recovered');
    expect(fleet.runs.map((r) => [r.role, r.parameters.KeyPair?.[0], [...r.instanceIds].sort()])).toEqual([
      ['probe', 'auto', [ID(1), ID(2)]],
      ['probe', 'create', [ID(1)]],
      ['push', undefined, [ID(1), ID(2)]],
    ]);
  });

  it('leaves unused the key a host made when its clock runs ahead into a grace period the function still sees', async () => {
    // Prepare: the token expired 30 s ago (grace 60 s); host 1's clock is 10 minutes ahead
    const { fleet, deps } = setup();
    const inGrace = fleet.nowSeconds() - 30;
    fleet.add(ID(1), { agent: { token: inGrace } }, { clockSkewSeconds: 600 });

    // Act
    const report = await run({}, deps());

    // Assess: in grace by the function's clock, so nothing is pushed; the host's key is never used
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('in-grace');
    expect(fleet.runs.map((r) => r.role)).toEqual(['probe']);
    expect(fleet.hosts.get(ID(1))?.key).toBeDefined();
  });

  it('names a started fleet instance that never checks in within the wait, so its start goes back to the queue', async () => {
    const { fleet, deps, expired } = setup({ ONLINE_WAIT_SECONDS: '2', COMMAND_POLL_INTERVAL_MS: '1000' });
    fleet.add(ID(1), { agent: { token: expired() } }, { listed: false });
    const report = await run(startBatch([ID(1)]), deps());
    expect(report.hosts).toEqual([]);
    expect(report.errors[0]).toContain(ID(1));
    expect(report.errors[0]).toContain('did not check in');
    expect(report.notCheckedIn).toStrictEqual([ID(1)]);
  });

  it('names no instance as never checked in when every started one did, nor on a run of the whole fleet', async () => {
    // Prepare
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });

    // Act
    const started = await run(startBatch([ID(1)]), deps());
    const whole = await run({}, deps({ runId: 'run-2' }));

    // Assess: the field is absent, not an empty list (the report keeps to what happened)
    for (const report of [started, whole]) expect(report).not.toHaveProperty('notCheckedIn');
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
    expect(fleet.runs.map((r) => r.role)).toEqual(['probe']);
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

describe('what the run reports of itself', () => {
  it('fails the run, does nothing and says why when the managed nodes cannot be listed', async () => {
    // Prepare
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    fleet.listFleet = async () => Promise.reject(new Error('AccessDeniedException'));

    // Act
    const report = await run({}, deps());

    // Assess
    expect(report.ok).toBe(false);
    expect(report.hosts).toStrictEqual([]);
    expect(report.totals).toStrictEqual({});
    expect(report.errors).toStrictEqual([
      'Listing the managed nodes failed (AccessDeniedException); nothing was done.',
    ]);
    expect(fleet.runs).toStrictEqual([]);
  });

  it('fails the run but keeps the first wave when listing the started hosts fails while it waits for the rest', async () => {
    // Prepare: host 1 is online at once; host 2 has not checked in, and the next look fails
    const { fleet, deps, expired } = setup({ COMMAND_POLL_INTERVAL_MS: '200' });
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(2), { agent: { token: expired() } }, { listed: false });
    fleet.beforeListing = (calls) => {
      if (calls === 2) throw new Error('ThrottlingException');
    };

    // Act
    const report = await run(startBatch([ID(1), ID(2)]), deps());

    // Assess
    expect(report.ok).toBe(false);
    expect(report.errors).toStrictEqual([
      'Listing the managed nodes failed (ThrottlingException); hosts not listed by then were not reconciled.',
    ]);
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(report.hosts.map((h) => h.instanceId)).toStrictEqual([ID(1)]);
  });

  it('says what is wrong with the secret and that nothing was delivered', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const report = await run(
      {},
      deps({ readSecret: async () => ({ ok: false, problem: 'The secret is gone.' }) }),
    );
    expect(report.errors).toStrictEqual(['The secret is gone. Nothing was delivered.']);
    expect(statusOf(report, ID(1), 'agent')?.reason).toBe(
      'the registration token secret is unusable (see errors)',
    );
  });

  it.each([
    ['with its detail', async () => ({ health: 'unhealthy' as const, detail: 'HTTP 502' }), 'HTTP 502'],
    ['without a detail', async () => ({ health: 'unhealthy' as const }), 'no detail'],
    [
      'when the health check itself throws',
      async () => Promise.reject(new Error('ENOENT: ca.pem')),
      'health check failed: ENOENT: ca.pem',
    ],
  ])('names an unhealthy Kasm Admin API %s and defers the delivery', async (_, checkKasm, detail) => {
    // Prepare
    const { fleet, deps, expired } = setup();
    const expiry = expired();
    fleet.add(ID(1), { agent: { token: expiry } });

    // Act
    const report = await run({}, deps({ checkKasm }));

    // Assess
    expect(report.kasmApi).toBe('unhealthy');
    expect(report.errors).toStrictEqual([
      `The Kasm Admin API is unhealthy (${detail}); deliveries are deferred.`,
    ]);
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'deferred',
      tokenExpiresAt: new Date(expiry * 1000).toISOString(),
      reason: 'the Kasm Admin API is unhealthy; delivery waits for a healthy API',
    });
    expect(fleet.runs.map((r) => r.role)).toStrictEqual(['probe']);
  });

  it('registers the token it read for redaction, so no log line can carry it', async () => {
    const { fleet, deps } = setup();
    const token = 'T25seVRoaXNUZXN0UmVhZHNNZQ';
    fleet.add(ID(1), { agent: {} });
    await run({}, deps({ readSecret: async () => ({ ok: true, token }) }));
    expect(redact(`the token is ${token}`)).toBe(`the token is ${REDACTED}`);
  });

  it("reports when it started and how long it took by the function's clock, and logs its totals", async () => {
    // Prepare: listing the fleet takes 1.5 s
    const { fleet, deps, logs } = setup();
    fleet.add(ID(1), { agent: {} });
    const start = Date.now();
    let clock = start;
    fleet.beforeListing = () => {
      clock += 1500;
    };

    // Act
    const report = await run({}, deps({ now: () => clock, deadlineAt: start + 10 * 60_000 }));

    // Assess
    expect(report.startedAt).toBe(new Date(start).toISOString());
    expect(report.durationMs).toBe(1500);
    expect(logs).toContain('inventory {"hosts":1,"reachable":1}');
    expect(logs.at(-1)).toBe(
      'run finished {"totals":{"healthy":1},"hostTotals":{"examined":1},"hosts":1,"ok":true,"durationMs":1500}',
    );
  });
});

describe('what the report says of each component', () => {
  it('leaves a token within the grace period alone and shows when it expired', async () => {
    const { fleet, deps } = setup();
    const expiry = fleet.nowSeconds() - 30;
    fleet.add(ID(1), { agent: { token: expiry } });
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'in-grace',
      tokenExpiresAt: new Date(expiry * 1000).toISOString(),
    });
    expect(fleet.runs.map((r) => r.role)).toStrictEqual(['probe']);
  });

  it('shows a healthy token with its expiry', async () => {
    const { fleet, deps } = setup();
    const expiry = fleet.nowSeconds() + 7200;
    fleet.add(ID(1), { agent: { token: expiry } });
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'healthy',
      tokenExpiresAt: new Date(expiry * 1000).toISOString(),
    });
  });

  it('predicts the push on a dry run with the expiry it found and the reason nothing was delivered', async () => {
    const { fleet, deps, expired } = setup();
    const expiry = expired();
    fleet.add(ID(1), { agent: { token: expiry } });
    const report = await run({ dryRun: true }, deps());
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'would-push',
      tokenExpiresAt: new Date(expiry * 1000).toISOString(),
      reason: 'token expired past the grace period; dry run, nothing delivered',
    });
  });

  it('still lists a host with nothing installed, with no components', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), {});
    const report = await run({}, deps());
    expect(report.hosts).toStrictEqual([{ instanceId: ID(1), platform: 'Linux', components: [] }]);
  });

  it('gives both documents the install locations and the run id', async () => {
    const { fleet, deps, expired } = setup({
      KASM_INSTALL_ROOT: '/srv/kasm/current',
      KASM_WINDOWS_INSTALL_DIR: 'D:\\Kasm',
      KASM_WINDOWS_SERVICE_NAME: 'KasmAgent',
    });
    fleet.add(ID(1), { agent: { token: expired() } });
    await run({}, deps({ runId: 'run-42' }));
    expect(fleet.runs.map((r) => r.role)).toStrictEqual(['probe', 'push']);
    for (const { parameters } of fleet.runs) {
      expect(parameters).toMatchObject({
        InstallRoot: ['/srv/kasm/current'],
        RunId: ['run-42'],
        WindowsInstallDir: ['D:\\Kasm'],
        WindowsServiceName: ['KasmAgent'],
      });
    }
  });
});

describe('which hosts a run covers', () => {
  it('says an offline host is unreachable with the ping status SSM gave', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} }, { online: false });
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'unreachable',
      reason: 'the host is offline (SSM PingStatus ConnectionLost)',
    });
  });

  it('reports no error when every named host is in the fleet', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    const report = await run({ instanceIds: [ID(1)] }, deps());
    expect(report.errors).toStrictEqual([]);
    expect(report.hosts.map((h) => h.instanceId)).toStrictEqual([ID(1)]);
  });

  it.each([
    [1, `${ID(100)}.`],
    [20, `${Array.from({ length: 20 }, (_, i) => ID(100 + i)).join(', ')}.`],
    [21, `${Array.from({ length: 20 }, (_, i) => ID(100 + i)).join(', ')}, …`],
  ])('names %i requested hosts outside the fleet, at most twenty of them', async (count, named) => {
    // Prepare
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    const outside = Array.from({ length: count }, (_, i) => ID(100 + i));

    // Act
    const report = await run({ instanceIds: [ID(1), ...outside] }, deps());

    // Assess
    expect(report.errors).toStrictEqual([
      `${count} requested instance(s) are not SSM managed nodes carrying the fleet tag kasm:reconcile=true` +
        ` (or are stopped), so they were not touched: ${named}`,
    ]);
    expect(report.ok).toBe(true);
  });

  it.each([
    ['a full run', undefined, true],
    ['a run naming it', [ID(1), ID(7)], true],
    ['a run naming other hosts only', [ID(1)], false],
  ])('names a fleet node on an unsupported platform in %s', async (_, instanceIds, named) => {
    // Prepare: SSM lists ID(7) with the fleet tag but neither Linux nor Windows
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    const list = fleet.listFleet.bind(fleet);
    fleet.listFleet = async () => ({ ...(await list()), unsupported: [ID(7)] });

    // Act
    const report = await run(instanceIds ? { instanceIds } : {}, deps());

    // Assess
    expect(report.errors).toStrictEqual(
      named
        ? [`${ID(7)} carries the fleet tag but runs a platform other than Linux or Windows; it was skipped.`]
        : [],
    );
    expect(report.hosts.map((h) => h.instanceId)).toStrictEqual([ID(1)]);
  });
});

describe('an instance-start run', () => {
  it('does nothing, and reports nothing wrong, when no started instance is in the fleet', async () => {
    const { fleet, deps, logs } = setup();
    fleet.add(ID(1), { agent: {} }, { listed: false, ec2Tagged: false });
    const report = await run(startBatch([ID(1)]), deps());
    expect(report.ok).toBe(true);
    expect(report.hosts).toStrictEqual([]);
    expect(report.errors).toStrictEqual([]);
    expect(fleet.runs).toStrictEqual([]);
    // Nothing awaited, so SSM is not even asked.
    expect(fleet.describedIds).toStrictEqual([]);
    expect(logs).toContain('inventory {"started":1,"awaited":0}');
  });

  it('says which started instances are unsupported fleet nodes, and names no other', async () => {
    // Prepare: ID(7), started, is a tagged node on another platform; ID(8), not started, too
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.add(ID(7), { agent: {} }, { listed: false });
    const describe = fleet.describeNodes.bind(fleet);
    fleet.describeNodes = async (ids) => ({
      ...(await describe(ids)),
      unsupported: [ID(7), ID(8)].filter((id) => ids.includes(id) || id === ID(8)),
    });

    // Act
    const report = await run(startBatch([ID(1), ID(7)]), deps());

    // Assess: ID(7) is not waited for until the run's wait ends
    expect(report.errors).toStrictEqual([
      `${ID(7)} carries the fleet tag but runs a platform other than Linux or Windows; it was skipped.`,
    ]);
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(fleet.describedIds).toStrictEqual([[ID(1), ID(7)]]);
  });

  it('waits for every started instance when EC2 cannot say which carry the fleet tag, and says so', async () => {
    // Prepare: host 1 is in the fleet; host 2 never checks in
    const { fleet, deps, expired, logs } = setup({ ONLINE_WAIT_SECONDS: '1' });
    fleet.add(ID(1), { agent: { token: expired() } });
    fleet.taggedInstances = async () => Promise.reject(new Error('UnauthorizedOperation'));

    // Act
    const report = await run(startBatch([ID(1), ID(2)]), deps());

    // Assess: without EC2's word, host 2 is most likely outside the fleet, so it is not named
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(report.errors).toStrictEqual([
      'EC2 could not say which started instances carry the fleet tag (UnauthorizedOperation); ' +
        'every started instance was waited for.',
    ]);
    expect(logs).toContain(
      'asking EC2 for the fleet tag of started instances failed {"error":"UnauthorizedOperation"}',
    );
    expect(fleet.listCalls).toBeGreaterThan(1);
  });

  it('recovers a started host whose SSM Agent is older than 3.3.2746.0, as soon as it is online', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } }, { agentVersion: '3.2.582.0' });
    const report = await run(startBatch([ID(1)]), deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(report.hosts[0]?.agentVersion).toBe('3.2.582.0');
  });

  it('waits for a listed started host whose agent is not yet online, then recovers it', async () => {
    const { fleet, deps, expired } = setup();
    const host = fleet.add(ID(1), { agent: { token: expired() } }, { online: false });
    fleet.beforeListing = (calls) => {
      if (calls >= 3) host.online = true;
    };
    const report = await run(startBatch([ID(1)]), deps());
    expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    expect(fleet.listCalls).toBe(3);
    expect(fleet.runs.map((r) => r.role)).toStrictEqual(['probe', 'push']);
  });

  it('sends each started host through the steps once, however long the others take to check in', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const late = fleet.add(ID(2), { agent: { token: expired() } }, { listed: false });
    fleet.beforeListing = (calls) => {
      if (calls >= 6) late.listed = true;
    };
    const report = await run(startBatch([ID(1), ID(2)]), deps());
    expect(fleet.runs.filter((r) => r.role === 'probe').map((r) => r.instanceIds)).toStrictEqual([
      [ID(1)],
      [ID(2)],
    ]);
    expect(report.hosts.map((h) => [h.instanceId, h.components.map((c) => c.status)])).toStrictEqual([
      [ID(1), ['recovered']],
      [ID(2), ['recovered']],
    ]);
  });

  it.each([
    ['at the last poll within the wait', 1000, true],
    ['one poll after the wait', 1050, false],
  ])('reconciles a started host that checks in %s', async (_, checksInAfterMs, reconciled) => {
    // Prepare: a 1 s wait polled every 50 ms, on a clock that moves one interval per poll
    const { fleet, deps, expired } = setup({ ONLINE_WAIT_SECONDS: '1', COMMAND_POLL_INTERVAL_MS: '50' });
    const host = fleet.add(ID(1), { agent: { token: expired() } }, { listed: false });
    const start = Date.now();
    let clock = start;
    fleet.beforeListing = (calls) => {
      if (calls > 1) clock += 50;
      if (clock - start >= checksInAfterMs) host.listed = true;
    };

    // Act
    const report = await run(
      startBatch([ID(1)]),
      deps({ now: () => clock, deadlineAt: start + 10 * 60_000 }),
    );

    // Assess
    expect(statusOf(report, ID(1), 'agent')?.status).toBe(reconciled ? 'recovered' : undefined);
    expect(report.errors).toStrictEqual(
      reconciled
        ? []
        : [
            `1 started fleet instance(s) did not check in with SSM within 1 s; their start notifications go back to the queue to be tried again: ${ID(1)}.`,
          ],
    );
  });
});

describe('the push, as sent', () => {
  /** Records every document run the steps ask for. */
  const recording = (fleet: ReturnType<typeof setup>['fleet']) => {
    const sent: DocumentRun[] = [];
    const usual = fleet.runDocument.bind(fleet);
    fleet.runDocument = (r) => {
      sent.push(r);
      return usual(r);
    };
    return sent;
  };

  it.each([
    ['exactly fits pick-up and push overhead', 45, 0],
    ['leaves 15 s besides', 60, 15],
    ['is ample', 600, 65],
  ])(
    'waits on the host for what time allows when the time left %s, and refuses to act after the pick-up and that wait',
    async (_, secondsLeft, wait) => {
      // Prepare: a clock that stands still
      const { fleet, deps, expired, logs } = setup();
      fleet.add(ID(1), { agent: { token: expired() } });
      const sent = recording(fleet);
      const now = Date.now();

      // Act
      const report = await run({}, deps({ now: () => now, deadlineAt: now + secondsLeft * 1000 }));

      // Assess
      const push = sent.find((r) => r.documentName === 'Push-doc');
      expect(push?.parametersFor([ID(1)])).toMatchObject({
        WaitSeconds: [String(wait)],
        NotAfter: [String(Math.floor(now / 1000) + 30 + wait)],
      });
      expect(push).toMatchObject({ expectedSeconds: wait, executionSeconds: wait + 15 });
      expect(logs).toContain(`deliver {"hosts":1,"waitSeconds":${wait}}`);
      expect(statusOf(report, ID(1), 'agent')?.status).toBe('recovered');
    },
  );

  it('leaves the delivery for the next run when the time left is one second short', async () => {
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const now = Date.now();
    const report = await run({}, deps({ now: () => now, deadlineAt: now + 44_999 }));
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'failed',
      reason: LEFT_FOR_NEXT_RUN,
    });
    expect(fleet.runs.map((r) => r.role)).toStrictEqual(['probe']);
  });

  it('says the push had not finished when the run had to give up on it', async () => {
    // Prepare: the fleet gives up on the push at the deadline, with the reason the step gave it
    const { fleet, deps, expired } = setup();
    fleet.add(ID(1), { agent: { token: expired() } });
    const usual = fleet.runDocument.bind(fleet);
    fleet.runDocument = async (r) =>
      r.documentName === 'Push-doc'
        ? new Map(r.instanceIds.map((id) => [id, { kind: 'failed' as const, detail: r.giveUpReason }]))
        : usual(r);

    // Act
    const report = await run({}, deps());

    // Assess
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'failed',
      reason: 'the push failed (the push had not finished on the host when the run had to stop)',
    });
  });
});

describe('a run at its deadline', () => {
  it('probes nothing when the deadline is now, and fails every host as left for the next run', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} });
    const now = Date.now();
    const report = await run({}, deps({ now: () => now, deadlineAt: now }));
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'failed',
      reason: LEFT_FOR_NEXT_RUN,
    });
    expect(report.hosts[0]?.reason).toBe(LEFT_FOR_NEXT_RUN);
    expect(fleet.runs).toStrictEqual([]);
  });

  it('says a host the probe could not reach was not delivered the probe command', async () => {
    const { fleet, deps } = setup();
    fleet.add(ID(1), { agent: {} }, { answer: { kind: 'unreachable', detail: 'DeliveryTimedOut' } });
    const report = await run({}, deps());
    expect(statusOf(report, ID(1), 'agent')).toStrictEqual({
      name: 'agent',
      status: 'unreachable',
      reason: 'the probe command could not be delivered (DeliveryTimedOut)',
    });
  });
});
