/**
 * The proving ground's Windows side without PowerShell: the simulated Kasm Windows agent (reads
 * registration_token.txt only when its service starts) and the icacls stand-in's ACL model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  applyIcacls,
  DEFAULT_PARENT_ACL,
  describeReaders,
  inheritFrom,
  isPrivate,
  parseIcacls,
  sddlOf,
} from '../proving-ground/hosts/windows-acl.ts';
import { type Ground, REGISTRATION_TOKEN, startGround } from '../proving-ground/testing.ts';

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

describe('the icacls stand-in', () => {
  it('parses what the scripts ask for: inheritance removed, SYSTEM and Administrators granted by SID', () => {
    // Act
    const request = parseIcacls([
      '/h/C/ProgramData/kasm-token-reconciler',
      '/inheritance:r',
      '/grant:r',
      '*S-1-5-18:(OI)(CI)F',
      '/grant:r',
      '*S-1-5-32-544:(OI)(CI)F',
    ]);

    // Assess
    expect(request).toEqual({
      target: '/h/C/ProgramData/kasm-token-reconciler',
      inheritance: 'r',
      grants: [
        { sid: 'S-1-5-18', rights: 'F', flags: '(OI)(CI)', replace: true },
        { sid: 'S-1-5-32-544', rights: 'F', flags: '(OI)(CI)', replace: true },
      ],
    });
  });

  it('refuses what it does not model, the way icacls words it', () => {
    expect(parseIcacls(['f', '/grant:r', 'nobody:F'])).toEqual({ invalid: 'nobody:F' });
    expect(parseIcacls(['f', '/setowner', 'SYSTEM'])).toEqual({ invalid: '/setowner' });
    expect(parseIcacls(['f', '/grant:r'])).toEqual({ invalid: '/grant:r' });
    expect(parseIcacls(['/grant', 'x:F'])).toEqual({ invalid: '/grant' });
  });

  it('makes a new file private only when inheritance is removed and nobody else is granted', () => {
    // Prepare
    const fresh = inheritFrom(DEFAULT_PARENT_ACL, false);
    const privateRequest = parseIcacls([
      'f',
      '/inheritance:r',
      '/grant:r',
      '*S-1-5-18:F',
      '/grant:r',
      'Administrators:F',
    ]);
    const grantOnly = parseIcacls(['f', '/grant:r', '*S-1-5-18:F']);
    if ('invalid' in privateRequest || 'invalid' in grantOnly) throw new Error('unexpected parse failure');

    // Act
    const made = applyIcacls(fresh, privateRequest);
    const stillInherited = applyIcacls(fresh, grantOnly);

    // Assess
    expect(describeReaders(fresh)).toEqual(['SYSTEM', 'Administrators', 'Users']);
    expect(isPrivate(made)).toBe(true);
    expect(sddlOf(made)).toBe('D:P(A;;FA;;;SY)(A;;FA;;;BA)');
    expect(isPrivate(stillInherited)).toBe(false);
    expect(sddlOf(stillInherited)).toContain('(A;ID;FRFX;;;BU)');
  });

  it('gives a file made in a private folder that folder’s inheritable entries only', () => {
    // Prepare
    const folderRequest = parseIcacls([
      'd',
      '/inheritance:r',
      '/grant:r',
      '*S-1-5-18:(OI)(CI)F',
      '/grant:r',
      '*S-1-5-32-544:(OI)(CI)F',
    ]);
    if ('invalid' in folderRequest) throw new Error('unexpected parse failure');
    const folder = applyIcacls(inheritFrom(DEFAULT_PARENT_ACL, true), folderRequest);

    // Act
    const file = inheritFrom(folder, false);

    // Assess
    expect(describeReaders(file)).toEqual(['SYSTEM', 'Administrators']);
    expect(sddlOf(file)).toBe('D:AI(A;ID;FA;;;SY)(A;ID;FA;;;BA)');
  });
});
