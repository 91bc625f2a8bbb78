/** Which Kasm components the reconciler looks for on a host of each platform. */
import { describe, expect, it, vi } from 'vitest';
import { type ComponentName, componentsFor, readsRegistrationFileOnlyAtStart } from '../../shared/catalog.ts';

describe('componentsFor', () => {
  it('looks for the agent, guac and both RDP gateways on a Linux host', () => {
    expect(componentsFor('Linux').map((c) => c.name)).toEqual([
      'agent',
      'guac',
      'rdp_gateway',
      'rdp_https_gateway',
    ]);
  });
  it('looks only for the Windows agent on a Windows host', () => {
    expect(componentsFor('Windows').map((c) => c.name)).toEqual(['windows']);
  });
});

describe('readsRegistrationFileOnlyAtStart', () => {
  it.each<[ComponentName, boolean]>([
    ['windows', true],
    ['agent', false],
    ['guac', false],
    ['rdp_gateway', false],
    ['rdp_https_gateway', false],
  ])(
    'says whether %s needs a service restart to read a waiting registration file: %s',
    (name, onlyAtStart) => {
      expect(readsRegistrationFileOnlyAtStart(name)).toBe(onlyAtStart);
    },
  );
});

describe('where the reconciler looks and writes on a host, unless told otherwise', () => {
  it('uses the paths and names the README documents, read afresh so each value is checked as the test runs', async () => {
    // Prepare: the catalog's values are module-level constants
    vi.resetModules();

    // Act
    const catalog = await import('../../shared/catalog.ts');

    // Assess
    expect({
      linuxInstallRoot: catalog.DEFAULT_LINUX_INSTALL_ROOT,
      windowsInstallDir: catalog.DEFAULT_WINDOWS_INSTALL_DIR,
      windowsService: catalog.DEFAULT_WINDOWS_SERVICE_NAME,
      registrationFile: catalog.REGISTRATION_FILE_NAME,
      linuxKeyDir: catalog.LINUX_STATE_DIR,
      linuxLegacyKeyDir: catalog.LINUX_LEGACY_STATE_DIR,
      windowsKeyDir: catalog.WINDOWS_STATE_DIR_NAME,
    }).toStrictEqual({
      linuxInstallRoot: '/opt/kasm/current',
      windowsInstallDir: 'C:\\Program Files\\Kasm',
      windowsService: 'Kasm',
      registrationFile: 'registration_token.txt',
      linuxKeyDir: '/run/kasm-token-reconciler',
      linuxLegacyKeyDir: '/var/lib/kasm-token-reconciler',
      windowsKeyDir: 'kasm-token-reconciler',
    });
  });
});
