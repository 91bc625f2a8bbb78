import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { findPwsh, pwshMissingReason } from './hosts/pwsh.ts';
import {
  FLEET_TAG,
  type Ground,
  mountsMentioning,
  payloadOf,
  processesMatching,
  REGISTRATION_TOKEN,
  startGround,
  waitFor,
} from './testing.ts';

let ground: Ground | undefined;
afterEach(async () => {
  await ground?.close();
  ground = undefined;
});

describe('the simulated fleet', () => {
  it('lists every scenario host as an SSM node, tagged only when managed', async () => {
    // Prepare
    ground = await startGround({
      hosts: [
        { id: 'i-0a1b2c3d4e5f60718', components: { agent: { token: 'valid' } } },
        { id: 'mi-0123456789abcdef0', managed: false, components: { guac: { token: 'valid' } } },
        {
          id: 'i-0123abcd',
          platform: 'Windows',
          online: false,
          components: { windows: { token: 'expired' } },
        },
      ],
    });

    // Act
    const nodes = ground.fleet.nodes();

    // Assess
    expect(nodes.map((n) => [n.instanceId, n.platform, n.online, n.tags[FLEET_TAG.key]])).toEqual([
      ['i-0a1b2c3d4e5f60718', 'Linux', true, 'true'],
      ['mi-0123456789abcdef0', 'Linux', true, undefined],
      ['i-0123abcd', 'Windows', false, 'true'],
    ]);
    expect(new Set(nodes.map((n) => n.ipAddress)).size).toBe(3);
    expect(nodes[0]?.computerName).toBe(`ip-${nodes[0]?.ipAddress.replaceAll('.', '-')}.ec2.internal`);
    expect(nodes[2]?.computerName).toMatch(/^EC2AMAZ-/);
  });

  it('reports the state of every installed component from the files on the hosts', async () => {
    // Prepare
    ground = await startGround({
      // "expiring" means within one heartbeat: 30 s keeps it valid however slow the machine is.
      kasm: { heartbeatSeconds: 30 },
      hosts: [
        {
          id: 'i-0a1b2c3d4e5f60718',
          components: {
            agent: { token: 'valid' },
            guac: { token: 'expiring' },
            rdp_gateway: { token: 'in-grace' },
            rdp_https_gateway: { token: 'expired' },
          },
        },
        { id: 'i-0123abcd', components: { agent: { token: 'missing' }, guac: { token: 'garbage' } } },
        { id: 'i-0123abce', platform: 'Windows', components: { windows: { token: 'valid' } } },
        { id: 'i-0123abcf' },
      ],
    });
    await ground.fleet.placeRegistrationFile('i-0123abcd', 'guac', REGISTRATION_TOKEN, { mode: 0o644 });

    // Act
    const state = ground.fleet.state();

    // Assess
    const absent = (tokenValid: boolean) => ({ tokenValid, registrationFile: 'absent' });
    expect(state).toEqual({
      'i-0a1b2c3d4e5f60718': {
        agent: absent(true),
        guac: absent(true),
        rdp_gateway: absent(false),
        rdp_https_gateway: absent(false),
      },
      'i-0123abcd': {
        agent: absent(false),
        guac: { tokenValid: false, registrationFile: 'present', registrationFileMode: '0644' },
      },
      'i-0123abce': { windows: absent(true) },
      'i-0123abcf': {},
    });
  });

  it('mints scenario tokens whose expiry matches their state', async () => {
    // Prepare
    ground = await startGround({
      kasm: { tokenLifetimeSeconds: 300, gracePeriodSeconds: 100, heartbeatSeconds: 2 },
      hosts: [
        {
          id: 'i-0a1b2c3d4e5f60718',
          components: {
            agent: { token: 'valid' },
            guac: { token: 'expiring' },
            rdp_gateway: { token: 'in-grace' },
            rdp_https_gateway: { token: 'expired' },
          },
        },
      ],
    });
    const now = Date.now() / 1000;

    // Act
    const secondsLeft = (['agent', 'guac', 'rdp_gateway', 'rdp_https_gateway'] as const).map(
      (c) => (payloadOf(ground!.fleet.readToken('i-0a1b2c3d4e5f60718', c)!).exp as number) - now,
    );

    // Assess
    const [valid, expiring, inGrace, expired] = secondsLeft as [number, number, number, number];
    expect(valid).toBeGreaterThan(298);
    // One heartbeat (2 s) rounded up to whole seconds, less the time since minting.
    expect(expiring).toBeGreaterThan(1);
    expect(expiring).toBeLessThanOrEqual(3);
    expect(inGrace).toBeLessThan(0);
    expect(inGrace).toBeGreaterThan(-100);
    expect(expired).toBeLessThan(-100);
  });

  it('writes each config in Kasm layout, owned by the kasm user, with the token where Kasm keeps it', async () => {
    // Prepare
    ground = await startGround({
      hosts: [
        {
          id: 'i-0a1b2c3d4e5f60718',
          components: {
            agent: { token: 'valid' },
            guac: { token: 'valid' },
            rdp_https_gateway: { token: 'missing' },
          },
        },
      ],
    });
    const root = ground.fleet.hostRoot('i-0a1b2c3d4e5f60718');
    const app = join(root, 'opt/kasm/current/conf/app');

    // Act
    const agent = parse(readFileSync(join(app, 'agent/agent.app.config.yaml'), 'utf8'));
    const guac = parse(readFileSync(join(app, 'guac/kasmguac.app.config.yaml'), 'utf8'));
    const https = parse(
      readFileSync(join(app, 'rdp_https_gateway/rdp_https_gateway.app.config.yaml'), 'utf8'),
    );
    const configStat = statSync(join(app, 'guac/kasmguac.app.config.yaml'));
    // The host's /run (tmpfs on a real host), where the product makes its root-only state directory.
    const run = statSync(join(root, 'run'));

    // Assess
    expect(payloadOf(agent.manager.token).server_id).toBe(agent.agent.server_id);
    expect(payloadOf(guac.api.auth_token).connection_proxy_id).toBe(guac.kasmguac.id);
    expect(guac.api.port).toBe(Number(new URL(ground.api.url).port));
    expect(https.api).not.toHaveProperty('auth_token');
    expect(https.rdp_https_gateway.id).toEqual(expect.any(String));
    expect([configStat.uid, configStat.gid, configStat.mode & 0o777]).toEqual([1000, 1000, 0o640]);
    expect([run.uid, run.mode & 0o777]).toEqual([0, 0o755]);
    expect(existsSync(join(root, 'var/lib/kasm-token-reconciler'))).toBe(false);
  });

  it('keeps the components of an offline host powered down and refuses to run steps there', async () => {
    // Prepare
    ground = await startGround({
      kasm: { heartbeatSeconds: 0.2 },
      hosts: [
        { id: 'i-00000001', online: false, components: { agent: { token: 'in-grace' } } },
        { id: 'i-00000002', components: { agent: { token: 'valid' } } },
      ],
    });
    const { fleet, api } = ground;
    const stale = fleet.readToken('i-00000001', 'agent');

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(2);
    const run = fleet.runStep({
      instanceId: 'i-00000001',
      action: 'aws:runShellScript',
      script: 'true',
      env: {},
      timeoutSeconds: 10,
    });

    // Assess
    expect(fleet.readToken('i-00000001', 'agent')).toBe(stale);
    expect(fleet.component('i-00000001', 'agent')).toBeUndefined();
    expect(api.requestCounts().refresh_token).toBe(0);
    await expect(run).rejects.toThrow('runStep called for offline host i-00000001');
  });

  it('moves hosts through time: a starting host is stopped, then running and ConnectionLost, then Online; a dropping agent goes ConnectionLost', async () => {
    // Prepare
    ground = await startGround({
      kasm: { heartbeatSeconds: 0.2 },
      hosts: [
        { id: 'i-00000001', startsAfterSeconds: 2, components: { agent: { token: 'in-grace' } } },
        { id: 'i-00000002', goesOfflineAfterSeconds: 2, components: { agent: { token: 'valid' } } },
        { id: 'i-00000003', state: 'stopped', components: { agent: { token: 'in-grace' } } },
      ],
    });
    const { fleet } = ground;
    const nodeOf = (id: string) => fleet.nodes().find((n) => n.instanceId === id);
    fleet.start();

    // Act
    const atStart = fleet.nodes().map((n) => [n.state, n.online]);
    const componentAtStart = fleet.component('i-00000001', 'agent');
    await waitFor(() => nodeOf('i-00000001')?.state === 'running', 10_000, 'the host to start');
    const booting = nodeOf('i-00000001')?.online;
    await waitFor(() => nodeOf('i-00000001')?.online === true, 10_000, 'the agent to check in');
    await waitFor(() => nodeOf('i-00000002')?.online === false, 10_000, 'the agent to drop');

    // Assess
    expect(atStart).toEqual([
      ['stopped', false],
      ['running', true],
      ['stopped', false],
    ]);
    expect(componentAtStart).toBeUndefined();
    expect(booting).toBe(false);
    expect(fleet.component('i-00000001', 'agent')).toBeDefined();
    expect(fleet.component('i-00000003', 'agent')).toBeUndefined();
    expect(nodeOf('i-00000002')?.lastPingAt).toBeInstanceOf(Date);
    expect(fleet.component('i-00000002', 'agent')).toBeDefined(); // only the agent dropped
  });

  it('starts the components of a host that comes online', async () => {
    // Prepare
    ground = await startGround({
      kasm: { heartbeatSeconds: 0.2 },
      hosts: [{ id: 'i-00000001', online: false, components: { agent: { token: 'in-grace' } } }],
    });
    const { fleet, api } = ground;
    fleet.start();

    // Act
    fleet.setOnline('i-00000001', true);
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(fleet.nodes()[0]?.online).toBe(true);
    expect(api.checkToken(fleet.readToken('i-00000001', 'agent')!).valid).toBe(true);
  });

  it('runs a step on a Windows host with PowerShell 7, or says clearly that pwsh is missing', async () => {
    // Prepare
    ground = await startGround({
      hosts: [{ id: 'i-00000001', platform: 'Windows', components: { windows: { token: 'expired' } } }],
    });

    // Act
    const result = await ground.fleet.runStep({
      instanceId: 'i-00000001',
      action: 'aws:runPowerShellScript',
      script:
        "Write-Output ('edition=' + $PSVersionTable.PSEdition + ' exists=' + (Test-Path 'C:\\Program Files\\Kasm\\config.yaml'))",
      env: {},
      timeoutSeconds: 30,
    });

    // Assess
    expect(result.timedOut).toBe(false);
    if (findPwsh()) {
      expect(result).toMatchObject({ exitCode: 0, stdout: 'edition=Core exists=True\n' });
    } else {
      expect(result.exitCode).toBe(1);
      expect(result.stderr).toContain(pwshMissingReason());
    }
  });
});

describe('stopping the simulated fleet', () => {
  it('kills running steps and leaves no mount, no process and no files behind', async () => {
    // Prepare
    ground = await startGround({
      kasm: { heartbeatSeconds: 0.2 },
      hosts: [
        {
          id: 'i-00000001',
          opensslMissing: true,
          components: { agent: { token: 'expired', readOnly: true } },
        },
        { id: 'i-00000002', components: { guac: { token: 'valid' } } },
      ],
    });
    const { fleet } = ground;
    const root = fleet.rootDir;
    fleet.start();
    const steps = ['i-00000001', 'i-00000002'].map((instanceId) =>
      fleet.runStep({
        instanceId,
        action: 'aws:runShellScript',
        script: 'sleep 985',
        env: {},
        timeoutSeconds: 60,
      }),
    );
    // Both steps run before the stop (polled: starting them can take a while on a busy machine)
    await expect.poll(() => processesMatching('sleep 985').length, { timeout: 10_000 }).toBe(2);

    // Act
    const started = Date.now();
    await fleet.stop();
    const results = await Promise.all(steps);

    // Assess
    expect(Date.now() - started).toBeLessThan(5000);
    expect(results.map((r) => r.exitCode)).toEqual([137, 137]);
    expect(processesMatching('sleep 985')).toEqual([]);
    expect(processesMatching(root)).toEqual([]);
    expect(mountsMentioning(root)).toEqual([]);
    expect(mountsMentioning('/opt/kasm')).toEqual([]);
    expect(mountsMentioning('pg-')).toEqual([]);
    expect(existsSync(root)).toBe(false);
    await expect(
      fleet.runStep({
        instanceId: 'i-00000002',
        action: 'aws:runShellScript',
        script: 'true',
        env: {},
        timeoutSeconds: 5,
      }),
    ).rejects.toThrow('stopped');
  });

  it('never starts a step that was still waiting for a slot', async () => {
    // Prepare
    ground = await startGround(
      { hosts: [{ id: 'i-00000001', components: { agent: { token: 'valid' } } }] },
      { maxConcurrentSteps: 1 },
    );
    const { fleet } = ground;
    const run = (script: string) =>
      fleet.runStep({
        instanceId: 'i-00000001',
        action: 'aws:runShellScript',
        script,
        env: {},
        timeoutSeconds: 60,
      });
    const first = run('sleep 984');
    const queued = run('touch /tmp/should-not-exist; sleep 983');
    await expect.poll(() => processesMatching('sleep 984').length, { timeout: 10_000 }).toBe(1);

    // Act
    await fleet.stop();
    const [firstResult, queuedResult] = await Promise.all([first, queued]);

    // Assess
    expect(firstResult.exitCode).toBe(137);
    expect(queuedResult.exitCode).toBe(-1);
    expect(queuedResult.stderr).toContain('was stopped before the step could run');
    expect(processesMatching('sleep 98')).toEqual([]);
    expect(existsSync(fleet.rootDir)).toBe(false);
  });
});
