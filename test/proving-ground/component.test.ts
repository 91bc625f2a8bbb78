import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kasmTime } from './kasm/component-log.ts';
import { refreshMarginSeconds } from './kasm/component-rules.ts';
import type { TokenState } from './scenario.ts';
import { type Ground, payloadOf, REGISTRATION_TOKEN, startGround, waitFor } from './testing.ts';

const HB = 0.25;
const ID = 'i-0a1b2c3d4e5f60718';

type OnFinished = (fn: () => Promise<void>) => void;

/** Starts a ground that is closed when the (concurrent) test finishes. */
async function ground(onTestFinished: OnFinished, scenario: Record<string, unknown>): Promise<Ground> {
  const g = await startGround(scenario);
  onTestFinished(() => g.close());
  return g;
}

/** A fleet of one host with one component, components not yet started. */
async function oneComponent(
  onTestFinished: OnFinished,
  component: 'agent' | 'guac' | 'rdp_gateway' | 'rdp_https_gateway',
  token: TokenState,
  extra: { running?: boolean; lifetime?: number; grace?: number; heartbeat?: number } = {},
): Promise<Ground> {
  return ground(onTestFinished, {
    kasm: {
      heartbeatSeconds: extra.heartbeat ?? HB,
      tokenLifetimeSeconds: extra.lifetime ?? 120,
      gracePeriodSeconds: extra.grace ?? 60,
    },
    hosts: [{ id: ID, components: { [component]: { token, running: extra.running ?? true } } }],
  });
}

describe.concurrent('a simulated component', () => {
  it('leaves a valid token alone and calls nothing', async ({ onTestFinished }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'agent', 'valid');
    const before = fleet.readToken(ID, 'agent');

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(3);

    // Assess
    expect(fleet.readToken(ID, 'agent')).toBe(before);
    expect(fleet.readLog(ID, 'agent')).toBe('');
    expect(api.requestCounts()).toMatchObject({ healthcheck: 0, refresh_token: 0, register_component: 0 });
  });

  it('refreshes a token that nears its expiry before the token expires', async ({ onTestFinished }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'guac', 'valid');
    const nearExpiry = await api.mintToken('guac', 3, 'proxy-1');
    await fleet.writeToken(ID, 'guac', nearExpiry);
    const oldExp = payloadOf(nearExpiry).exp as number;

    // Act
    fleet.start();
    await waitFor(() => fleet.readToken(ID, 'guac') !== nearExpiry, 5000, 'the token to be replaced');
    const replacedAt = Date.now() / 1000;

    // Assess
    expect(replacedAt).toBeLessThan(oldExp);
    const fresh = fleet.readToken(ID, 'guac')!;
    expect(api.checkToken(fresh).valid).toBe(true);
    expect(payloadOf(fresh)).toMatchObject({ connection_proxy_id: 'proxy-1' });
    expect(fleet.readLog(ID, 'guac')).toContain(`Refreshing auth token which expires ${kasmTime(oldExp)}`);
    expect(api.requestCounts().register_component).toBe(0);
  });

  it('refreshes a scenario token that is "expiring" on its first heartbeat', async ({ onTestFinished }) => {
    // Prepare
    // "expiring" leaves at most one heartbeat: 3 s keeps it unexpired however loaded the machine is.
    const heartbeat = 3;
    const { fleet, api } = await oneComponent(onTestFinished, 'rdp_https_gateway', 'expiring', { heartbeat });
    const expiring = fleet.readToken(ID, 'rdp_https_gateway')!;
    const secondsLeft = (payloadOf(expiring).exp as number) - Date.now() / 1000;

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(secondsLeft).toBeGreaterThan(0);
    // One heartbeat, rounded up to the JWT's whole seconds.
    expect(secondsLeft).toBeLessThanOrEqual(heartbeat + 1);
    const fresh = fleet.readToken(ID, 'rdp_https_gateway')!;
    expect(fresh).not.toBe(expiring);
    expect(api.checkToken(fresh).valid).toBe(true);
  });

  it('exchanges a token inside the grace period for a new one by itself', async ({ onTestFinished }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'agent', 'in-grace');
    const stale = fleet.readToken(ID, 'agent')!;

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    const fresh = fleet.readToken(ID, 'agent')!;
    expect(api.checkToken(stale).valid).toBe(false);
    expect(api.checkToken(fresh).valid).toBe(true);
    expect(payloadOf(fresh).server_id).toBe(payloadOf(stale).server_id);
    expect(fleet.readLog(ID, 'agent')).toMatch(
      /\[INFO\] {2}Refreshing auth token.*\n.*\[DEBUG\] Health check return: \{'ok': True\}\n.*\[INFO\] {2}New auth token expires .*\n.*\[DEBUG\] Saved configuration changes\.\n$/,
    );
    expect(api.requestCounts().register_component).toBe(0);
  });

  it('stays locked out past the grace period without a registration file and logs the expired error', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'agent', 'expired');
    const locked = fleet.readToken(ID, 'agent');

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(2);

    // Assess
    expect(fleet.readToken(ID, 'agent')).toBe(locked);
    expect(fleet.state()[ID]?.agent?.tokenValid).toBe(false);
    const log = fleet.readLog(ID, 'agent');
    expect(log).toContain(
      `Error from Kasm server for api: ${api.url}/api/admin/refresh_token status: 403 error: No response`,
    );
    expect(log).toContain('[ERROR] Failed to refresh auth token');
    expect(log).toContain('[INFO]  Attempt 1 /10 attempts');
    expect(log).toContain('[INFO]  Attempt 2 /10 attempts');
    expect(log).toContain(
      `Error from Kasm server for api: ${api.url}/api/admin/register_component status: 200 error: The JWT token has expired.`,
    );
    expect(api.adminLog().some((l) => l.endsWith('Expired JWT utilized on register_component'))).toBe(true);
  });

  it('recovers past the grace period from a registration file, saves the token and deletes the file', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'rdp_gateway', 'expired');
    const configPath = fleet.configPath(ID, 'rdp_gateway');
    const statBefore = statSync(configPath);
    const idBefore = (parse(readFileSync(configPath, 'utf8')) as { rdp_gateway: { id: string } }).rdp_gateway
      .id;
    await fleet.placeRegistrationFile(ID, 'rdp_gateway', REGISTRATION_TOKEN);

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    const fresh = fleet.readToken(ID, 'rdp_gateway')!;
    expect(api.checkToken(fresh).valid).toBe(true);
    expect(payloadOf(fresh).connection_proxy_id).toBe(idBefore);
    expect(fleet.registrationFile(ID, 'rdp_gateway')).toBeUndefined();
    const statAfter = statSync(configPath);
    expect([statAfter.uid, statAfter.gid, statAfter.mode]).toEqual([
      statBefore.uid,
      statBefore.gid,
      statBefore.mode,
    ]);
    const shown = '/opt/kasm/current/conf/app/rdp_gateway/registration_token.txt';
    expect(fleet.readLog(ID, 'rdp_gateway')).toMatch(
      new RegExp(
        [
          `\\[DEBUG\\] Loaded registration token from ${shown}`,
          '\\[INFO\\]  New auth token expires \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d',
          '\\[DEBUG\\] Saved configuration changes\\.',
          `\\[INFO\\]  Successfully removed registration token file at ${shown}`,
          '\\[INFO\\]  Component registration successful',
        ].join('\\n.*'),
      ),
    );
  });

  it('keeps the other keys of its config when it saves a new token', async ({ onTestFinished }) => {
    // Prepare
    const { fleet } = await oneComponent(onTestFinished, 'guac', 'expired');
    const before = parse(readFileSync(fleet.configPath(ID, 'guac'), 'utf8')) as {
      api: Record<string, unknown>;
    };
    await fleet.placeRegistrationFile(ID, 'guac', REGISTRATION_TOKEN);

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    const after = parse(readFileSync(fleet.configPath(ID, 'guac'), 'utf8')) as {
      api: Record<string, unknown>;
    };
    expect(after.api.auth_token).not.toBe(before.api.auth_token);
    expect({ ...after, api: { ...after.api, auth_token: 'x' } }).toEqual({
      ...before,
      api: { ...before.api, auth_token: 'x' },
    });
  });

  it('ignores trailing newlines in the registration file', async ({ onTestFinished }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'guac', 'expired');
    await fleet.placeRegistrationFile(ID, 'guac', `${REGISTRATION_TOKEN}\n\r\n\n`);

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(api.checkToken(fleet.readToken(ID, 'guac')!).valid).toBe(true);
    expect(fleet.registrationFile(ID, 'guac')).toBeUndefined();
  });

  it('does not accept a wrong registration token and leaves the file in place', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'agent', 'expired');
    await fleet.placeRegistrationFile(ID, 'agent', 'bm90LXRoZS1yaWdodC10b2tlbg==\n');

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(2);

    // Assess
    expect(api.checkToken(fleet.readToken(ID, 'agent')!).valid).toBe(false);
    expect(fleet.registrationFile(ID, 'agent')?.content).toBe('bm90LXRoZS1yaWdodC10b2tlbg==\n');
    expect(fleet.readLog(ID, 'agent')).toContain(
      `register_component status: 403 error: Invalid registration token.`,
    );
    expect(fleet.readLog(ID, 'agent')).not.toContain('Component registration successful');
  });

  it('recovers from a garbage token with a registration file, and stays locked without one', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await ground(onTestFinished, {
      kasm: { heartbeatSeconds: HB },
      hosts: [
        { id: 'i-00000001', components: { agent: { token: 'garbage' } } },
        { id: 'i-00000002', components: { agent: { token: 'garbage' } } },
      ],
    });
    const garbage = fleet.readToken('i-00000002', 'agent');
    await fleet.placeRegistrationFile('i-00000001', 'agent', REGISTRATION_TOKEN);

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(2);

    // Assess
    expect(api.checkToken(fleet.readToken('i-00000001', 'agent')!).valid).toBe(true);
    expect(fleet.registrationFile('i-00000001', 'agent')).toBeUndefined();
    expect(fleet.readToken('i-00000002', 'agent')).toBe(garbage);
    expect(fleet.readLog('i-00000002', 'agent')).toContain('Unable to decode the auth token.');
    expect(fleet.readLog('i-00000002', 'agent')).toContain('Failed to refresh auth token');
  });

  it('never recovers without a token, not even with a registration file, and never reads the file', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'rdp_gateway', 'missing');
    await fleet.placeRegistrationFile(ID, 'rdp_gateway', REGISTRATION_TOKEN);

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(3);

    // Assess
    expect(fleet.readToken(ID, 'rdp_gateway')).toBeUndefined();
    expect(fleet.registrationFile(ID, 'rdp_gateway')?.content).toBe(REGISTRATION_TOKEN);
    const log = fleet.readLog(ID, 'rdp_gateway');
    expect(log).toContain('must be redeployed as a new component');
    expect(log).not.toContain('registration token');
    expect(api.requestCounts()).toMatchObject({ healthcheck: 0, refresh_token: 0, register_component: 0 });
  });

  it('does nothing while not running, even with a registration file, and recovers once started', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'guac', 'expired', { running: false });
    await fleet.placeRegistrationFile(ID, 'guac', REGISTRATION_TOKEN);
    const locked = fleet.readToken(ID, 'guac');

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(3);
    const whileStopped = {
      token: fleet.readToken(ID, 'guac'),
      file: fleet.registrationFile(ID, 'guac')?.content,
      log: fleet.readLog(ID, 'guac'),
      calls: api.requestCounts(),
    };
    fleet.setRunning(ID, 'guac', true);
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(whileStopped).toEqual({
      token: locked,
      file: REGISTRATION_TOKEN,
      log: '',
      calls: { healthcheck: 0, refresh_token: 0, register_component: 0, other: 0 },
    });
    expect(api.checkToken(fleet.readToken(ID, 'guac')!).valid).toBe(true);
    expect(fleet.registrationFile(ID, 'guac')).toBeUndefined();
  });

  it('cannot refresh while the Admin API is unhealthy, and logs the failed health check', async ({
    onTestFinished,
  }) => {
    // Prepare
    const { fleet, api } = await oneComponent(onTestFinished, 'agent', 'in-grace');
    const stale = fleet.readToken(ID, 'agent');
    api.setHealthy(false);

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(fleet.readToken(ID, 'agent')).toBe(stale);
    expect(fleet.readLog(ID, 'agent')).toContain('Health check failed: 503');
    expect(fleet.readLog(ID, 'agent')).toContain('refresh_token status: 503 error: Service Unavailable');
  });

  it('stops waking once stopped', async ({ onTestFinished }) => {
    // Prepare
    const { fleet } = await oneComponent(onTestFinished, 'agent', 'expired');
    fleet.start();
    await fleet.waitForHeartbeats(1);
    const loop = fleet.component(ID, 'agent')!;

    // Act
    await fleet.stop();
    const heartbeats = loop.heartbeats;
    await new Promise((r) => setTimeout(r, HB * 3 * 1000));

    // Assess
    expect(heartbeats).toBeGreaterThanOrEqual(1);
    expect(loop.heartbeats).toBe(heartbeats);
  });
});

describe('refreshMarginSeconds', () => {
  it('is two heartbeats or half the token lifetime, whichever is longer', () => {
    // Prepare
    const cases: [number, number][] = [
      [1, 120],
      [30, 60],
      [0.25, 2],
    ];

    // Act
    const margins = cases.map(([hb, lifetime]) => refreshMarginSeconds(hb, lifetime));

    // Assess
    expect(margins).toEqual([60, 60, 1]);
  });
});
