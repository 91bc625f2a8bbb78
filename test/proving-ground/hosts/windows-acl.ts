/**
 * A small model of NTFS discretionary ACLs, enough to play `icacls.exe` on a simulated Windows host:
 * parse the arguments a script passes, apply them to the file's ACL, and say who can read the file.
 * The host's directory is on a Linux file system, so the ACL lives here (keyed by inode, so it follows
 * a rename the way an NTFS ACL does) and is mirrored onto the Linux mode: readable by SYSTEM and
 * Administrators only -> 0600 (0700 for a folder), otherwise 0644 (0755).
 */

/** Well-known SIDs and the names icacls accepts for them. */
export const WELL_KNOWN_SIDS: Readonly<Record<string, string>> = {
  'S-1-5-18': 'SYSTEM',
  'S-1-5-32-544': 'Administrators',
  'S-1-5-32-545': 'Users',
  'S-1-1-0': 'Everyone',
  'S-1-5-11': 'Authenticated Users',
  'S-1-3-0': 'CREATOR OWNER',
};

const NAMES: Readonly<Record<string, string>> = {
  system: 'S-1-5-18',
  'nt authority\\system': 'S-1-5-18',
  administrators: 'S-1-5-32-544',
  'builtin\\administrators': 'S-1-5-32-544',
  users: 'S-1-5-32-545',
  'builtin\\users': 'S-1-5-32-545',
  everyone: 'S-1-1-0',
  'authenticated users': 'S-1-5-11',
  'nt authority\\authenticated users': 'S-1-5-11',
};

/** SIDs that may read the product's private files: LocalSystem and BUILTIN\Administrators. */
export const PRIVATE_READERS: readonly string[] = ['S-1-5-18', 'S-1-5-32-544'];

export interface Ace {
  readonly sid: string;
  /** icacls rights: F, M, RX, R, W, D, N or a parenthesised list such as (RD,WD). */
  readonly rights: string;
  /** Inheritance flags as icacls prints them, e.g. `(OI)(CI)`; empty for a file. */
  readonly flags: string;
  /** Inherited from the parent folder (as opposed to explicit). */
  readonly inherited: boolean;
}

export interface NtfsAcl {
  /** Inheritance disabled (SE_DACL_PROTECTED). */
  readonly protected: boolean;
  readonly aces: readonly Ace[];
}

export interface IcaclsGrant {
  readonly sid: string;
  readonly rights: string;
  readonly flags: string;
  /** `/grant:r`: replaces the SID's explicit grants instead of adding to them. */
  readonly replace: boolean;
}

export interface IcaclsRequest {
  readonly target: string;
  readonly inheritance: 'e' | 'd' | 'r' | undefined;
  readonly grants: readonly IcaclsGrant[];
}

/** What a new file or folder inherits when its parent's ACL is unknown: the Windows defaults for
 * `C:\Program Files` and `C:\ProgramData` boiled down (SYSTEM and Administrators full, Users read). */
export const DEFAULT_PARENT_ACL: NtfsAcl = {
  protected: false,
  aces: [
    { sid: 'S-1-5-18', rights: 'F', flags: '(OI)(CI)', inherited: true },
    { sid: 'S-1-5-32-544', rights: 'F', flags: '(OI)(CI)', inherited: true },
    { sid: 'S-1-5-32-545', rights: 'RX', flags: '(OI)(CI)', inherited: true },
  ],
};

/** The ACL a new object gets from its parent folder's inheritable entries. */
export function inheritFrom(parent: NtfsAcl, isFolder: boolean): NtfsAcl {
  const aces = parent.aces
    .filter((a) => (isFolder ? a.flags.includes('(CI)') : a.flags.includes('(OI)')))
    .map((a) => ({ sid: a.sid, rights: a.rights, flags: isFolder ? a.flags : '', inherited: true }));
  return { protected: false, aces };
}

function sidOf(account: string): string | undefined {
  if (account.startsWith('*'))
    return /^\*S-1(-\d+)+$/i.test(account) ? account.slice(1).toUpperCase() : undefined;
  return NAMES[account.toLowerCase()];
}

const RIGHTS = /^(?:N|F|M|RX|R|W|D|\((?:[A-Z]{1,5})(?:,[A-Z]{1,5})*\))$/;
const FLAGS = /^(?:\((?:OI|CI|IO|NP|I)\))*/;

function parseGrant(text: string, replace: boolean): IcaclsGrant | undefined {
  const colon = text.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const sid = sidOf(text.slice(0, colon));
  const perm = text.slice(colon + 1);
  const flags = FLAGS.exec(perm)?.[0] ?? '';
  const rights = perm.slice(flags.length);
  if (sid === undefined || !RIGHTS.test(rights)) return undefined;
  return { sid, rights, flags, replace };
}

/**
 * The subset of `icacls <name> [/inheritance:e|d|r] [/grant[:r] Sid:perm [...]] [/c] [/l] [/q]` that
 * modifies a DACL. Returns the problem (as icacls words it) for anything else.
 */
export function parseIcacls(args: readonly string[]): IcaclsRequest | { readonly invalid: string } {
  // The name comes first. (On the proving ground it is a Linux path, which starts with "/" too.)
  const [target, ...rest] = args;
  if (
    target === undefined ||
    /^\/(grant|deny|inheritance|remove|reset|setowner|save|restore)/i.test(target)
  ) {
    return { invalid: target ?? '' };
  }
  let inheritance: IcaclsRequest['inheritance'];
  const grants: IcaclsGrant[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    const lower = arg.toLowerCase();
    const inherit = /^\/inheritance:([edr])$/.exec(lower);
    if (inherit) {
      inheritance = inherit[1] as 'e' | 'd' | 'r';
    } else if (lower === '/grant' || lower === '/grant:r') {
      let taken = 0;
      while (i + 1 < rest.length && !(rest[i + 1] ?? '').startsWith('/')) {
        const grant = parseGrant(rest[i + 1] ?? '', lower === '/grant:r');
        if (!grant) return { invalid: rest[i + 1] ?? '' };
        grants.push(grant);
        i++;
        taken++;
      }
      if (taken === 0) return { invalid: arg };
    } else if (lower !== '/c' && lower !== '/l' && lower !== '/q') {
      return { invalid: arg };
    }
  }
  return { target, inheritance, grants };
}

/** The ACL after icacls applied `request` to an object whose ACL was `acl`. */
export function applyIcacls(acl: NtfsAcl, request: IcaclsRequest): NtfsAcl {
  let isProtected = acl.protected;
  let aces = [...acl.aces];
  if (request.inheritance === 'r') {
    isProtected = true;
    aces = aces.filter((a) => !a.inherited);
  } else if (request.inheritance === 'd') {
    isProtected = true;
    aces = aces.map((a) => ({ ...a, inherited: false }));
  } else if (request.inheritance === 'e') {
    isProtected = false;
  }
  for (const g of request.grants) {
    if (g.replace) aces = aces.filter((a) => a.inherited || a.sid !== g.sid);
    aces.push({ sid: g.sid, rights: g.rights, flags: g.flags, inherited: false });
  }
  // Canonical order: explicit before inherited.
  aces.sort((a, b) => Number(a.inherited) - Number(b.inherited));
  return { protected: isProtected, aces };
}

/** SIDs with any access other than N (no access). */
export function readersOf(acl: NtfsAcl): string[] {
  return [
    ...new Set(acl.aces.filter((a) => a.rights !== 'N' && !a.flags.includes('(IO)')).map((a) => a.sid)),
  ];
}

export function isPrivate(acl: NtfsAcl): boolean {
  return readersOf(acl).every((sid) => PRIVATE_READERS.includes(sid));
}

/** An SDDL-style rendering, e.g. `D:P(A;;FA;;;SY)(A;;FA;;;BA)`: P = inheritance removed, ID = inherited. */
export function sddlOf(acl: NtfsAcl): string {
  const trustee: Record<string, string> = {
    'S-1-5-18': 'SY',
    'S-1-5-32-544': 'BA',
    'S-1-5-32-545': 'BU',
    'S-1-1-0': 'WD',
    'S-1-5-11': 'AU',
    'S-1-3-0': 'CO',
  };
  const rights: Record<string, string> = { F: 'FA', R: 'FR', W: 'FW', RX: 'FRFX', M: 'SDFRFWFX', D: 'SD' };
  const aces = acl.aces.map((a) => {
    const flags =
      (a.flags.includes('(OI)') ? 'OI' : '') +
      (a.flags.includes('(CI)') ? 'CI' : '') +
      (a.flags.includes('(IO)') ? 'IO' : '') +
      (a.flags.includes('(NP)') ? 'NP' : '') +
      (a.inherited ? 'ID' : '');
    return `(A;${flags};${rights[a.rights] ?? a.rights};;;${trustee[a.sid] ?? a.sid})`;
  });
  return `D:${acl.protected ? 'P' : 'AI'}${aces.join('')}`;
}

/** Names of the readers, for messages: `SYSTEM, Administrators`. */
export function describeReaders(acl: NtfsAcl): string[] {
  return readersOf(acl).map((sid) => WELL_KNOWN_SIDS[sid] ?? sid);
}
