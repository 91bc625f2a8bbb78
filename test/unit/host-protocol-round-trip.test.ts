/**
 * The host protocol's two sides agree: whatever the formatter prints (as every TypeScript host model
 * does), the parser reads back as the same report. The scripts' own output is held to the description
 * by host-protocol.test.ts and to the parser by the script tests.
 */
import { describe, expect, it } from 'vitest';
import { type ComponentName, LINUX_COMPONENT_NAMES } from '../../shared/catalog.ts';
import { linuxScript, PARAMETER_PATTERNS, windowsScript } from '../../shared/documents/ssm-documents.ts';
import {
  answer,
  deliveryFor,
  encodeDeliveries,
  missingParametersLine,
  type PushAnswer,
  probeLines,
  pushLines,
  roleOfScript,
  SKIP_REASONS,
  TOO_LATE_REASON,
  unfinished,
} from '../../shared/host-protocol.ts';
import {
  type ComponentSighting,
  MISSING_PARAMETERS_PROBLEM,
  type ProbeReport,
  type PushOutcome,
  parseProbeOutput,
  parsePushOutput,
  type TokenSighting,
} from '../../shared/host-report.ts';

const SPKI = `MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA${'q'.repeat(340)}IDAQAB`;
const TOKENS: readonly TokenSighting[] = [
  { kind: 'jwt', headerAndPayload: 'eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE4MDAwMDAwMDB9' },
  { kind: 'none' },
  { kind: 'unreadable' },
];

/** Every shape a component's sighting can take: token kinds × file waiting or not × running states. */
function sightings(name: ComponentName): ComponentSighting[] {
  return TOKENS.flatMap((token) =>
    [null, 0, 42].flatMap((age) =>
      ([true, false, 'unknown'] as const).flatMap((running): ComponentSighting[] => {
        const base = { name, token, registrationFileAgeSeconds: age, running };
        // Windows fields: restarted after a push; delivered only while a file waits.
        return age === null
          ? [base, { ...base, restarted: false }]
          : [base, { ...base, restarted: true, firstDeliveredAgeSeconds: 7 }];
      }),
    ),
  );
}

describe('probe answers', () => {
  const keys: ProbeReport['sealingKey'][] = [
    null,
    { kind: 'ready', spkiDerBase64: SPKI },
    { kind: 'error', reason: 'state-dir-unsafe' },
  ];

  it('read back as the report they were printed from, for every sighting and key', () => {
    for (const sealingKey of keys)
      for (const canUnseal of [true, false])
        for (const s of sightings('guac')) {
          const report: ProbeReport = {
            hostEpochSeconds: 1_800_000_123,
            canUnseal,
            sealingKey,
            components: [s, ...sightings('agent').slice(0, 1)],
          };
          expect(parseProbeOutput(answer('probe', probeLines(report)))).toEqual({ ok: true, value: report });
        }
  });

  it('read a missing-parameters answer and an unfinished one as problems', () => {
    expect(parseProbeOutput(answer('probe', [missingParametersLine]))).toEqual({
      ok: false,
      problem: MISSING_PARAMETERS_PROBLEM,
    });
    const report: ProbeReport = { hostEpochSeconds: 1, canUnseal: true, sealingKey: null, components: [] };
    expect(parseProbeOutput(unfinished('probe', probeLines(report)))).toMatchObject({
      ok: false,
      problem: expect.stringContaining('incomplete'),
    });
  });
});

describe('push answers', () => {
  const carried: readonly ComponentName[] = ['agent', 'guac'];
  const seen = (name: ComponentName): ComponentSighting => ({
    name,
    token: TOKENS[0]!,
    registrationFileAgeSeconds: null,
    running: true,
  });
  const outcomeSets: PushOutcome[][] = [
    [
      { kind: 'written', after: seen('agent') },
      { kind: 'failed', name: 'guac', reason: 'write-denied' },
    ],
    ...SKIP_REASONS.map((reason): PushOutcome[] => [
      { kind: 'skipped', reason, after: { ...seen('agent'), registrationFileAgeSeconds: 3 } },
      { kind: 'written', after: { ...seen('guac'), restarted: true } },
    ]),
  ];

  it('print the lines the scripts print, in their order', () => {
    const outcomes: PushOutcome[] = [{ kind: 'failed', name: 'guac', reason: 'write-denied' }];
    expect(answer('push', pushLines({ result: 'unsealed', waitedSeconds: 3, outcomes }))).toBe(
      'ktr-push v1\nhost result=unsealed\nhost waited=3\ncomp guac push=failed reason=write-denied\nend\n',
    );
  });

  it('read back with every outcome the push can print', () => {
    for (const outcomes of outcomeSets) {
      const push: PushAnswer = { result: 'unsealed', waitedSeconds: 12, outcomes };
      expect(parsePushOutput(answer('push', pushLines(push)), carried)).toEqual({
        ok: true,
        value: { delivered: true, waitedSeconds: 12, outcomes },
      });
    }
  });

  it('read a token that could not be unsealed as a failure of each component carried', () => {
    const push: PushAnswer = { result: 'not-unsealed', components: carried, reason: 'key-missing' };
    expect(parsePushOutput(answer('push', pushLines(push)), carried)).toEqual({
      ok: true,
      value: {
        delivered: true,
        waitedSeconds: null,
        outcomes: carried.map((name) => ({ kind: 'failed', name, reason: 'key-missing' })),
      },
    });
  });

  it('read too-late as a failure of each component carried, and no-delivery as nothing delivered', () => {
    expect(parsePushOutput(answer('push', pushLines({ result: 'too-late' })), carried)).toEqual({
      ok: true,
      value: {
        delivered: false,
        tooLate: true,
        waitedSeconds: null,
        outcomes: carried.map((name) => ({ kind: 'failed', name, reason: TOO_LATE_REASON })),
      },
    });
    expect(parsePushOutput(answer('push', pushLines({ result: 'no-delivery' })), carried)).toEqual({
      ok: true,
      value: { delivered: false, waitedSeconds: null, outcomes: [] },
    });
  });

  it('read a push killed during its wait as incomplete', () => {
    expect(parsePushOutput(unfinished('push', ['host result=unsealed']), carried)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('incomplete'),
    });
  });
});

describe('the Deliveries encoding', () => {
  /** RSA-2048 ciphertext is 256 bytes: 344 base64 characters, as the pattern wants. */
  const sealed = (c: string) => `${c.repeat(340)}+/==`;
  const entries = [
    { instanceId: 'i-0123456789abcdef0', components: ['agent'] as ComponentName[], sealed: sealed('a') },
    { instanceId: 'mi-0123456789abcdef1', components: [...LINUX_COMPONENT_NAMES], sealed: sealed('b') },
  ];

  it('gives each host its own entry back, and passes the push document pattern', () => {
    const value = encodeDeliveries(entries);
    for (const e of entries)
      expect(deliveryFor(value, e.instanceId)).toEqual({ components: e.components, sealed: e.sealed });
    expect(deliveryFor(value, 'i-0123456789abcdef9')).toBeUndefined();
    expect(new RegExp(PARAMETER_PATTERNS.deliveries).test(value)).toBe(true);
  });

  it('reads the last entry for a host named twice, as the scripts do', () => {
    const value = encodeDeliveries([
      entries[0]!,
      { ...entries[0]!, components: ['guac'], sealed: 'bGFzdA==' },
    ]);
    expect(deliveryFor(value, entries[0]!.instanceId)).toEqual({ components: ['guac'], sealed: 'bGFzdA==' });
  });

  it('reads an entry without its ciphertext as an empty one, which no host can unseal', () => {
    expect(deliveryFor('i-0123456789abcdef0:agent+guac', 'i-0123456789abcdef0')).toEqual({
      components: ['agent', 'guac'],
      sealed: '',
    });
  });

  it('never takes an instance id that only starts like another for it', () => {
    const value = encodeDeliveries([{ ...entries[0]!, instanceId: 'i-0123456789abcdef01' }]);
    expect(deliveryFor(value, 'i-0123456789abcdef0')).toBeUndefined();
  });
});

describe('roleOfScript', () => {
  it('tells each document by the header it prints, on both platforms', () => {
    for (const role of ['probe', 'push'] as const) {
      expect(roleOfScript(linuxScript(role))).toBe(role);
      expect(roleOfScript(windowsScript(role))).toBe(role);
    }
    expect(roleOfScript('echo hello')).toBeUndefined();
  });
});
