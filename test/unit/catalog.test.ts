/** Which Kasm components the reconciler looks for on a host of each platform. */
import { describe, expect, it } from 'vitest';
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
