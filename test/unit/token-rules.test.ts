import { describe, expect, it } from 'vitest';
import type { ComponentSighting } from '../../shared/host-report.ts';
import {
  cannotUnsealReason,
  decide,
  describePushFailure,
  judgeDelivery,
  type Policy,
  tokenState,
} from '../../shared/token-rules.ts';
import { segments } from './jwt-fixtures.ts';

const NOW = 1_800_000_000;
const b64 = (json: string) => Buffer.from(json).toString('base64url');
const policy: Policy = { gracePeriodSeconds: 600, stuckAfterSeconds: 300 };

function sighting(exp: number | undefined, extra: Partial<ComponentSighting> = {}): ComponentSighting {
  return {
    name: 'agent',
    token: {
      kind: 'jwt',
      headerAndPayload: segments(exp === undefined ? { sub: 'x' } : { exp, server_id: 's1' }),
    },
    registrationFileAgeSeconds: null,
    running: true,
    ...extra,
  };
}

describe('tokenState', () => {
  it('calls a token valid while now is before exp', () => {
    expect(tokenState(sighting(NOW + 1).token, NOW, policy)).toEqual({ kind: 'valid', expiresAt: NOW + 1 });
  });
  it('calls a token in grace from exp until exp plus the grace period', () => {
    expect(tokenState(sighting(NOW).token, NOW, policy).kind).toBe('in-grace');
    expect(tokenState(sighting(NOW - 599).token, NOW, policy).kind).toBe('in-grace');
  });
  it('calls a token past grace once exp plus the grace period has passed', () => {
    expect(tokenState(sighting(NOW - 600).token, NOW, policy).kind).toBe('past-grace');
  });
  it('calls a token without a numeric exp unreadable', () => {
    expect(tokenState(sighting(undefined).token, NOW, policy)).toMatchObject({ kind: 'unreadable' });
  });
  it('calls segments that are not base64 JSON unreadable', () => {
    expect(tokenState({ kind: 'jwt', headerAndPayload: 'abc.def' }, NOW, policy).kind).toBe('unreadable');
  });
  it.each([
    [
      'a token the host could not read as a JWT',
      { kind: 'unreadable' },
      'the token in the config is not a JWT',
    ],
    [
      'segments that are not base64 JSON',
      { kind: 'jwt', headerAndPayload: 'abc.def' },
      'the token header or payload does not decode as JWT JSON',
    ],
    [
      'a payload without exp',
      { kind: 'jwt', headerAndPayload: segments({ sub: 'x' }) },
      'the token has no numeric exp claim',
    ],
    [
      'an exp that is a string',
      { kind: 'jwt', headerAndPayload: segments({ exp: String(NOW + 100) }) },
      'the token has no numeric exp claim',
    ],
    [
      'an exp too large to be finite (1e999 parses as Infinity), never valid forever',
      { kind: 'jwt', headerAndPayload: `${b64('{"alg":"RS256","typ":"JWT"}')}.${b64('{"exp":1e999}')}` },
      'the token has no numeric exp claim',
    ],
  ] as const)('says why a token is unreadable: %s', (_, token, why) => {
    expect(tokenState(token, NOW, policy)).toStrictEqual({ kind: 'unreadable', why });
  });
});

describe('decide', () => {
  it('leaves a healthy component alone', () => {
    expect(decide(sighting(NOW + 100), NOW, policy)).toEqual({
      action: 'none',
      status: 'healthy',
      expiresAt: NOW + 100,
    });
  });
  it('leaves a component in grace to refresh itself', () => {
    expect(decide(sighting(NOW - 10), NOW, policy)).toMatchObject({ action: 'none', status: 'in-grace' });
  });
  it('plans a delivery for a token expired past grace with no file waiting', () => {
    expect(decide(sighting(NOW - 700), NOW, policy)).toEqual({ action: 'deliver', expiresAt: NOW - 700 });
  });
  it('does not deliver again while a recent registration file is waiting', () => {
    const d = decide(sighting(NOW - 700, { registrationFileAgeSeconds: 20 }), NOW, policy);
    expect(d).toStrictEqual({
      action: 'none',
      status: 'pending',
      expiresAt: NOW - 700,
      reason: 'a registration token file is already waiting (20s old)',
    });
  });
  it('delivers again to a Windows agent whose file waits, since only a service restart makes it read the file', () => {
    const d = decide(sighting(NOW - 700, { name: 'windows', registrationFileAgeSeconds: 60 }), NOW, policy);
    expect(d).toEqual({ action: 'deliver', expiresAt: NOW - 700 });
  });
  it('still reports a Windows file past the stuck limit as stuck rather than looping', () => {
    const d = decide(sighting(NOW - 700, { name: 'windows', registrationFileAgeSeconds: 300 }), NOW, policy);
    expect(d).toMatchObject({ action: 'none', status: 'stuck' });
  });
  it('reports a registration file older than the stuck limit as stuck', () => {
    const d = decide(sighting(NOW - 700, { registrationFileAgeSeconds: 300 }), NOW, policy);
    expect(d).toMatchObject({ action: 'none', status: 'stuck' });
    expect(d.action === 'none' && d.reason).toContain('300s');
  });
  it('reports a valid token beside a registration file past the stuck limit as stuck, not healthy', () => {
    // Prepare: the component works, but a file it should have consumed has waited too long
    const atLimit = sighting(NOW + 100, { registrationFileAgeSeconds: 300 });
    const belowLimit = sighting(NOW + 100, { registrationFileAgeSeconds: 299 });

    // Act
    const stuck = decide(atLimit, NOW, policy);
    const waiting = decide(belowLimit, NOW, policy);

    // Assess
    expect(stuck).toMatchObject({ action: 'none', status: 'stuck', expiresAt: NOW + 100 });
    expect(stuck.action === 'none' && stuck.reason).toContain('waited 300s unconsumed (limit 300s)');
    expect(waiting).toMatchObject({ action: 'none', status: 'healthy' });
  });
  it('reports a token in grace beside a registration file past the stuck limit as stuck', () => {
    const d = decide(sighting(NOW - 10, { registrationFileAgeSeconds: 301 }), NOW, policy);
    expect(d).toMatchObject({ action: 'none', status: 'stuck', expiresAt: NOW - 10 });
  });
  it('reports a config without a token as needing a redeploy, even with a file waiting', () => {
    const d = decide({ ...sighting(0), token: { kind: 'none' }, registrationFileAgeSeconds: 5 }, NOW, policy);
    expect(d).toMatchObject({ action: 'none', status: 'needs-redeploy' });
  });
  it('reports a token that is not a JWT as unreadable and plans nothing', () => {
    expect(decide({ ...sighting(0), token: { kind: 'unreadable' } }, NOW, policy)).toMatchObject({
      action: 'none',
      status: 'unreadable',
    });
  });
});

describe('judgeDelivery', () => {
  it('judges a component the push stood back from by how it is now, never as failed for standing back', () => {
    // Act: another run's file still waits; the other run already recovered it; neither, and still locked out.
    const waiting = judgeDelivery(
      {
        kind: 'skipped',
        reason: 'already-waiting',
        after: sighting(NOW - 700, { registrationFileAgeSeconds: 2 }),
      },
      NOW,
      policy,
    );
    const recovered = judgeDelivery(
      { kind: 'skipped', reason: 'config-changed', after: sighting(NOW + 120) },
      NOW,
      policy,
    );
    const still = judgeDelivery(
      { kind: 'skipped', reason: 'config-changed', after: sighting(NOW - 700) },
      NOW,
      policy,
    );

    // Assess
    expect(waiting).toMatchObject({
      status: 'pending',
      reason: expect.stringMatching(/another run.*waits to be consumed/),
    });
    expect(recovered).toMatchObject({
      status: 'recovered',
      expiresAt: NOW + 120,
      reason: expect.stringMatching(/another run's delivery reached it first/),
    });
    expect(still).toMatchObject({
      status: 'failed',
      reason: expect.stringMatching(/no valid token; the next run/),
    });
  });
  it('calls a consumed file with a fresh valid token recovered', () => {
    const v = judgeDelivery({ kind: 'written', after: sighting(NOW + 120) }, NOW, policy);
    expect(v).toEqual({ status: 'recovered', expiresAt: NOW + 120 });
  });
  it('calls a file still waiting pending and says when the component is stopped', () => {
    const v = judgeDelivery(
      { kind: 'written', after: sighting(NOW - 700, { registrationFileAgeSeconds: 3, running: false }) },
      NOW,
      policy,
    );
    expect(v.status).toBe('pending');
    expect(v.reason).toContain('not running');
  });
  it('calls a consumed file that left an expired token failed', () => {
    expect(judgeDelivery({ kind: 'written', after: sighting(NOW - 700) }, NOW, policy).status).toBe('failed');
  });
  it('calls a consumed file that left a token only in grace failed, not recovered', () => {
    // Prepare: the file is gone, but the token the component holds expired 10 s ago
    const outcome = { kind: 'written', after: sighting(NOW - 10) } as const;

    // Act
    const v = judgeDelivery(outcome, NOW, policy);

    // Assess
    expect(v).toMatchObject({ status: 'failed', expiresAt: NOW - 10 });
    expect(v.reason).toContain('holds no valid token');
  });
  it('reports that the push restarted the service, whether it then recovered or still waits', () => {
    // Prepare
    const recovered = sighting(NOW + 120, { restarted: true });
    const waiting = sighting(NOW - 700, { restarted: true, registrationFileAgeSeconds: 2 });

    // Act
    const verdicts = [recovered, waiting].map((after) =>
      judgeDelivery({ kind: 'written', after }, NOW, policy),
    );

    // Assess
    expect(verdicts).toEqual([
      { status: 'recovered', expiresAt: NOW + 120, restarted: true },
      expect.objectContaining({ status: 'pending', restarted: true }),
    ]);
  });
  it('does not report a restart the host did not make', () => {
    const v = judgeDelivery(
      { kind: 'written', after: sighting(NOW + 120, { restarted: false }) },
      NOW,
      policy,
    );
    expect(v).toEqual({ status: 'recovered', expiresAt: NOW + 120 });
  });
  it('explains a write-denied push in words', () => {
    const v = judgeDelivery({ kind: 'failed', name: 'guac', reason: 'write-denied' }, NOW, policy);
    expect(v).toMatchObject({ status: 'failed' });
    expect(v.reason).toMatch(/not writable/);
  });
});

describe('decide for a Windows agent and the one restart per delivery', () => {
  it('delivers (and so restarts the service) for a waiting file no push has delivered yet', () => {
    // Prepare
    const s = sighting(NOW - 700, { name: 'windows', registrationFileAgeSeconds: 30 });

    // Act + Assess
    expect(decide(s, NOW, policy).action).toBe('deliver');
  });

  it('reports stuck, without delivering or restarting again, once a push delivered the file and it still waits', () => {
    // Prepare: the push delivered 40 s ago and restarted the service; the file was rewritten 5 s ago.
    const s = sighting(NOW - 700, {
      name: 'windows',
      registrationFileAgeSeconds: 5,
      firstDeliveredAgeSeconds: 40,
    });

    // Act
    const d = decide(s, NOW, policy);

    // Assess
    expect(d).toMatchObject({ action: 'none', status: 'stuck' });
    expect(d.action === 'none' && d.reason).toMatch(/delivered 40s ago and the service was restarted once/);
  });

  it.each([
    [false, '; the service is stopped, start it'],
    [true, ''],
    ['unknown', ''],
  ] as const)(
    'tells, when the file still waits after the one restart, whether the service is stopped (running=%s)',
    (running, tail) => {
      // Prepare
      const s = sighting(NOW - 700, {
        name: 'windows',
        registrationFileAgeSeconds: 5,
        firstDeliveredAgeSeconds: 40,
        running,
      });

      // Act
      const d = decide(s, NOW, policy);

      // Assess
      expect(d).toStrictEqual({
        action: 'none',
        status: 'stuck',
        expiresAt: NOW - 700,
        reason:
          'registration_token.txt was delivered 40s ago and the service was restarted once, ' +
          `but it has not read the file; check the Kasm service and its log${tail}`,
      });
    },
  );

  it('delivers again once the file is gone, whatever first-delivery age the sighting still carries', () => {
    // Prepare: the file was consumed (no age), yet the token is past grace; a stale marker age rides along
    const s = sighting(NOW - 700, {
      name: 'windows',
      registrationFileAgeSeconds: null,
      firstDeliveredAgeSeconds: 400,
    });

    // Act + Assess
    expect(decide(s, NOW, policy)).toStrictEqual({ action: 'deliver', expiresAt: NOW - 700 });
  });

  it('measures how long a file waited from its first delivery, not from its last rewrite', () => {
    // Prepare: valid token, a file rewritten 10 s ago that was first delivered 400 s ago.
    const s = sighting(NOW + 60, {
      name: 'windows',
      registrationFileAgeSeconds: 10,
      firstDeliveredAgeSeconds: 400,
    });

    // Act + Assess
    expect(decide(s, NOW, policy)).toMatchObject({
      status: 'stuck',
      reason: expect.stringContaining('400s'),
    });
  });
});

describe("the report's words for a host that cannot take a token, and for a failed push", () => {
  it.each([
    ['Windows', /^\.NET on the host has no RSA-OAEP-SHA256 \(it needs \.NET Framework 4\.6 or later\)/],
    ['Linux', /^openssl is not installed on the host/],
  ] as const)(
    'tells a %s host what it lacks, and that the token cannot be sealed to it',
    (platform, lacks) => {
      // Act
      const reason = cannotUnsealReason(platform);

      // Assess
      expect(reason).toMatch(lacks);
      expect(reason).toMatch(/, so the registration token cannot be sealed to it$/);
    },
  );

  it('never mentions openssl to a Windows host, whose push unseals with .NET', () => {
    expect(cannotUnsealReason('Windows')).not.toMatch(/openssl/);
  });

  it('passes a push failure reason it has no words for through, so nothing the host said is lost', () => {
    expect(describePushFailure('disk-full')).toBe('the push failed on the host (disk-full)');
  });
});
