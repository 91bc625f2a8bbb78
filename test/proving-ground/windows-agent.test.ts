/**
 * The simulated Kasm Windows agent (kasm/component-rules.ts, `readsRegistrationFile: 'on-start'`): it
 * reads registration_token.txt only when its service starts. Runs without PowerShell.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type Ground, REGISTRATION_TOKEN, startGround } from './testing.ts';

const HOST = 'i-0a1b2c3d4e5f60798';

describe('the simulated Kasm Windows agent', () => {
  let ground: Ground | undefined;
  afterEach(async () => {
    await ground?.close();
    ground = undefined;
  });

  const start = async (component: Record<string, unknown>) => {
    ground = await startGround({
      kasm: { heartbeatSeconds: 0.2 },
      hosts: [{ id: HOST, platform: 'Windows', components: { windows: component } }],
    });
    return ground;
  };

  it('refreshes a token inside the grace period by itself, like the Linux components', async () => {
    // Prepare
    const { fleet, api } = await start({ token: 'in-grace' });

    // Act
    fleet.start();
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(api.checkToken(fleet.readToken(HOST, 'windows')!).valid).toBe(true);
  });

  it('leaves the registration file alone on its heartbeats and reads it only when its service restarts', async () => {
    // Prepare
    const { fleet, api } = await start({ token: 'expired' });
    await fleet.placeRegistrationFile(HOST, 'windows', `${REGISTRATION_TOKEN}\r\n`);
    fleet.start();
    await fleet.waitForHeartbeats(3);
    const before = fleet.registrationFile(HOST, 'windows');
    const lockedOut = fleet.readLog(HOST, 'windows');

    // Act
    await fleet.component(HOST, 'windows')?.restart();
    await fleet.waitForHeartbeats(1);

    // Assess
    expect(before?.content).toBe(`${REGISTRATION_TOKEN}\r\n`);
    expect(lockedOut).toContain('The JWT token has expired.');
    expect(lockedOut).not.toContain('Loaded registration token');
    expect(fleet.registrationFile(HOST, 'windows')).toBeUndefined();
    expect(api.checkToken(fleet.readToken(HOST, 'windows')!).valid).toBe(true);
    const log = fleet.readLog(HOST, 'windows');
    expect(log).toContain('Loaded registration token from C:\\Program Files\\Kasm\\registration_token.txt');
    expect(log).toContain('Component registration successful');
  });

  it('keeps heartbeating after a restart, once per heartbeat', async () => {
    // Prepare
    const { fleet } = await start({ token: 'valid' });
    fleet.start();
    const component = fleet.component(HOST, 'windows')!;

    // Act: two restarts, then wait for five heartbeats (an event, not a time window)
    const restartedAt = Date.now();
    await component.restart();
    await component.restart();
    await component.waitForHeartbeats(5);
    const elapsedMs = Date.now() - restartedAt;

    // Assess: one loop beats at most once per 0.2 s after the restart, so five take at least
    // 1 s; a duplicate loop would fit them in about 0.6 s. A slow machine only adds time.
    expect(elapsedMs).toBeGreaterThanOrEqual(5 * 200 - 5);
  });

  it('never reads the file while its service is stopped (running: false), even when told to restart', async () => {
    // Prepare
    const { fleet } = await start({ token: 'expired', running: false });
    await fleet.placeRegistrationFile(HOST, 'windows', REGISTRATION_TOKEN);
    fleet.start();

    // Act
    await fleet.component(HOST, 'windows')?.restart();
    await fleet.waitForHeartbeats(2);

    // Assess: a stopped agent never reads the file
    expect(fleet.registrationFile(HOST, 'windows')?.content).toBe(REGISTRATION_TOKEN);
    expect(fleet.readLog(HOST, 'windows')).not.toContain('Loaded registration token');
  });
});
