/**
 * The icacls stand-in's model of NTFS ACLs (windows-acl.ts), without PowerShell.
 */
import { describe, expect, it } from 'vitest';
import {
  applyIcacls,
  DEFAULT_PARENT_ACL,
  describeReaders,
  inheritFrom,
  isPrivate,
  parseIcacls,
  sddlOf,
} from './windows-acl.ts';

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
