/**
 * The decision rules: observations + now + policy in, one decision per component out.
 * No I/O, no clock reads: callers pass `nowSeconds`.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { type Platform, readsRegistrationFileOnlyAtStart } from './catalog.ts';
import type { SkipReason } from './host-protocol.ts';
import type { ComponentSighting, PushOutcome, TokenSighting } from './host-report.ts';

/** Every status of the run report (docs/operating.md, "Runbook"). */
export const COMPONENT_STATUSES = [
  'healthy',
  'in-grace',
  'recovered',
  'pending',
  'stuck',
  'would-push',
  'deferred',
  'needs-redeploy',
  'unreadable',
  'unreachable',
  'failed',
] as const;
export type ComponentStatus = (typeof COMPONENT_STATUSES)[number];

export type KasmApiHealth = 'healthy' | 'unhealthy' | 'unchecked';

export type TokenState =
  | { readonly kind: 'valid'; readonly expiresAt: number }
  | { readonly kind: 'in-grace'; readonly expiresAt: number }
  | { readonly kind: 'past-grace'; readonly expiresAt: number }
  | { readonly kind: 'missing' }
  | { readonly kind: 'unreadable'; readonly why: string };

export interface Policy {
  readonly gracePeriodSeconds: number;
  /** A registration file older than this has not been consumed and will not be. */
  readonly stuckAfterSeconds: number;
}

/** Reads `exp` from header.payload; the signature never reaches the function. */
export function tokenState(sighting: TokenSighting, nowSeconds: number, policy: Policy): TokenState {
  if (sighting.kind === 'none') return { kind: 'missing' };
  if (sighting.kind === 'unreadable')
    return { kind: 'unreadable', why: 'the token in the config is not a JWT' };
  const asJwt = `${sighting.headerAndPayload}.`;
  let exp: unknown;
  try {
    decodeProtectedHeader(asJwt);
    exp = decodeJwt(asJwt).exp;
  } catch {
    return { kind: 'unreadable', why: 'the token header or payload does not decode as JWT JSON' };
  }
  if (typeof exp !== 'number' || !Number.isFinite(exp)) {
    return { kind: 'unreadable', why: 'the token has no numeric exp claim' };
  }
  if (nowSeconds < exp) return { kind: 'valid', expiresAt: exp };
  if (nowSeconds < exp + policy.gracePeriodSeconds) return { kind: 'in-grace', expiresAt: exp };
  return { kind: 'past-grace', expiresAt: exp };
}

/** What to do about one component, before the run's circumstances (dry run, API health). */
export type Decision =
  | {
      readonly action: 'none';
      readonly status: Exclude<
        ComponentStatus,
        'recovered' | 'would-push' | 'deferred' | 'unreachable' | 'failed'
      >;
      readonly expiresAt?: number;
      readonly reason?: string;
    }
  | { readonly action: 'deliver'; readonly expiresAt: number };

export function decide(sighting: ComponentSighting, nowSeconds: number, policy: Policy): Decision {
  const state = tokenState(sighting.token, nowSeconds, policy);
  // How long the file has waited: from its first delivery when a push left a marker (a redelivery
  // rewrites the file, so its mtime would restart the clock), else from the file's mtime.
  const firstDelivered = fileAgeSinceFirstDelivery(sighting);
  const fileAge = firstDelivered ?? sighting.registrationFileAgeSeconds;
  const fileIsStuck = fileAge !== null && fileAge >= policy.stuckAfterSeconds;
  const stuckReason = `registration_token.txt has waited ${fileAge}s unconsumed (limit ${policy.stuckAfterSeconds}s)`;

  switch (state.kind) {
    case 'missing':
      return {
        action: 'none',
        status: 'needs-redeploy',
        reason:
          'the config holds no auth token; a registration token cannot restore it, redeploy the component',
      };
    case 'unreadable':
      return { action: 'none', status: 'unreadable', reason: state.why };
    case 'valid':
    case 'in-grace':
      if (fileIsStuck)
        return { action: 'none', status: 'stuck', expiresAt: state.expiresAt, reason: stuckReason };
      return {
        action: 'none',
        status: state.kind === 'valid' ? 'healthy' : 'in-grace',
        expiresAt: state.expiresAt,
      };
    case 'past-grace':
      // A waiting file only a restart makes the component read: deliver again, which restarts it, but
      // once per delivery: when a push already delivered it (and restarted the service), alarm instead.
      if (fileAge !== null && readsRegistrationFileOnlyAtStart(sighting.name)) {
        if (firstDelivered !== null) {
          const stopped = sighting.running === false ? '; the service is stopped, start it' : '';
          return {
            action: 'none',
            status: 'stuck',
            expiresAt: state.expiresAt,
            reason:
              `registration_token.txt was delivered ${firstDelivered}s ago and the service was restarted once, ` +
              `but it has not read the file; check the Kasm service and its log${stopped}`,
          };
        }
        if (!fileIsStuck) return { action: 'deliver', expiresAt: state.expiresAt };
      }
      if (fileIsStuck)
        return { action: 'none', status: 'stuck', expiresAt: state.expiresAt, reason: stuckReason };
      if (fileAge !== null) {
        return {
          action: 'none',
          status: 'pending',
          expiresAt: state.expiresAt,
          reason: `a registration token file is already waiting (${fileAge}s old)`,
        };
      }
      return { action: 'deliver', expiresAt: state.expiresAt };
  }
}

function fileAgeSinceFirstDelivery(sighting: ComponentSighting): number | null {
  if (sighting.registrationFileAgeSeconds === null) return null;
  return sighting.firstDeliveredAgeSeconds ?? null;
}

export interface Verdict {
  readonly status: ComponentStatus;
  readonly expiresAt?: number;
  readonly reason?: string;
  readonly restarted?: boolean;
}

/**
 * Why a host whose probe answered `unseal=0` is sent no token, in its own platform's terms: the Linux
 * push unseals with openssl, the Windows push with .NET's RSA-OAEP-SHA256 (`RSAEncryptionPadding`,
 * .NET Framework 4.6 and later), so a Windows host is never told about openssl.
 */
export function cannotUnsealReason(platform: Platform): string {
  if (platform === 'Windows') {
    return (
      '.NET on the host has no RSA-OAEP-SHA256 (it needs .NET Framework 4.6 or later), ' +
      'so the registration token cannot be sealed to it'
    );
  }
  return 'openssl is not installed on the host, so the registration token cannot be sealed to it';
}

const PUSH_FAILURES: Readonly<Record<string, string>> = {
  // Printed by the Linux push only (the Windows push unseals with .NET, and is never sent a token when
  // its probe said it cannot).
  'openssl-missing': 'openssl is not installed on the host, so the sealed token cannot be opened there',
  'key-missing': 'the host no longer has the sealing key made for this run',
  'unseal-failed': 'the host could not unseal the registration token',
  'unsealed-value-invalid': 'the unsealed value is not a plausible registration token',
  'config-missing': 'the component config file disappeared before delivery',
  'write-denied': 'the config directory is not writable, so registration_token.txt could not be placed',
  'write-failed': 'writing registration_token.txt failed; no partial file was left',
  'key-expired':
    'the sealing key made for this run was older than its 15-minute lifetime, so it was not used',
  'too-late':
    'the delivery arrived after the run gave up on it (the host clock was past its NotAfter time), so nothing was written',
  'target-not-regular':
    'registration_token.txt exists but is not a regular file (a directory, symlink or other special file); nothing was written, remove it',
  'target-replaced':
    'registration_token.txt was replaced by something that is not a regular file while the push waited; check who writes in the config directory',
  'dir-unsafe':
    'the config directory is owned by root but writable by others, so no file is placed there; fix its permissions',
  'setpriv-missing':
    'setpriv (util-linux) is not installed on the host, so the file cannot be written as the config directory owner',
  'state-dir-unsafe':
    'the reconciler state directory is a link, a reparse point, or not owned by SYSTEM/Administrators (root on Linux); nothing was done',
  'host-busy':
    "another run held the host's delivery lock for longer than 10 s (or flock, util-linux, is missing); nothing was done, the next run tries again",
  'write-unconfirmed':
    "after the write, registration_token.txt was not the file meant (a regular file of the config directory's owner, mode 0600, holding exactly the token); nothing is believed written and the file was removed, check who writes in the config directory",
  'dir-owner-unknown':
    "the config directory's owner has no account on the host (or root's group as its primary group), so the file is not written as that owner; give the directory to Kasm's account",
  'dir-on-user-mount':
    'the config directory is on a FUSE file system, which its owner may have mounted over it, so nothing is placed there',
  'target-not-trusted':
    'registration_token.txt is a reparse point or owned by someone other than SYSTEM/Administrators; nothing was written, remove it',
};

/** Every push `reason=` the report has words for (shared/documents/README.md lists who prints each). */
export const PUSH_FAILURE_REASONS: readonly string[] = Object.freeze(Object.keys(PUSH_FAILURES));

export function describePushFailure(reason: string): string {
  return PUSH_FAILURES[reason] ?? `the push failed on the host (${reason})`;
}

/** Why a push stood back (`push=skipped reason=…`), in the report's words. */
const SKIPS: Readonly<Record<SkipReason, string>> = {
  'already-waiting':
    "another run's registration_token.txt was already waiting (written after this run's probe), so this run wrote nothing",
  'config-changed':
    "the component saved a new config after this run's probe (another run's delivery reached it first), so this run wrote nothing",
};

/** Words for a push's skip reason (shared/documents/README.md lists them). */
export function describeSkip(reason: SkipReason): string {
  return SKIPS[reason];
}

/** Judges one component after delivery from what the push saw on the host. */
export function judgeDelivery(outcome: PushOutcome, nowSeconds: number, policy: Policy): Verdict {
  if (outcome.kind === 'failed') return { status: 'failed', reason: describePushFailure(outcome.reason) };
  if (outcome.kind === 'skipped') return judgeSkip(outcome.reason, outcome.after, nowSeconds, policy);
  const after = outcome.after;
  const restarted = after.restarted === true ? { restarted: true } : {};
  const state = tokenState(after.token, nowSeconds, policy);
  const expiresAt = 'expiresAt' in state ? { expiresAt: state.expiresAt } : {};
  if (after.registrationFileAgeSeconds === null) {
    if (state.kind === 'valid') return { status: 'recovered', ...expiresAt, ...restarted };
    return {
      status: 'failed',
      ...expiresAt,
      ...restarted,
      reason: 'the file was consumed but the component holds no valid token; check the component log',
    };
  }
  const notRunning =
    after.running === false ? '; the component is not running and will read it when started' : '';
  return {
    status: 'pending',
    ...expiresAt,
    ...restarted,
    reason: `registration_token.txt delivered, not yet consumed${notRunning}`,
  };
}

/**
 * Judges a component the push stood back from because another run got there first: by how it is now,
 * never as failed for standing back. A file still waiting is pending; a valid token is recovered (by the
 * other run's delivery, which the reason says).
 */
function judgeSkip(
  reason: SkipReason,
  after: ComponentSighting,
  nowSeconds: number,
  policy: Policy,
): Verdict {
  const state = tokenState(after.token, nowSeconds, policy);
  const expiresAt = 'expiresAt' in state ? { expiresAt: state.expiresAt } : {};
  if (after.registrationFileAgeSeconds !== null) {
    return { status: 'pending', ...expiresAt, reason: `${SKIPS[reason]}; the file waits to be consumed` };
  }
  if (state.kind === 'valid') return { status: 'recovered', ...expiresAt, reason: SKIPS[reason] };
  return {
    status: 'failed',
    ...expiresAt,
    reason: `${SKIPS[reason]}, yet it holds no valid token; the next run looks again`,
  };
}
