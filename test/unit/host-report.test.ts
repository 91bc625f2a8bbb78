import { describe, expect, it } from 'vitest';
import { MISSING_PARAMETERS_PROBLEM, parseProbeOutput, parsePushOutput } from '../../shared/host-report.ts';
import { describePushFailure } from '../../shared/token-rules.ts';

const SPKI = 'A'.repeat(392);

describe('parseProbeOutput', () => {
  it('reads host facts, the sealing key and each component', () => {
    const out = [
      'ktr-probe v1',
      'host unseal=1 now=1800000000',
      `key spki=${SPKI}`,
      'comp agent token=aGVhZA.cGF5 reg=absent running=true',
      'comp guac token=none reg=12 running=false',
      'comp rdp_gateway token=unreadable reg=absent running=unknown',
      'end',
      '',
      '----------ERROR-------',
      'some stderr',
    ].join('\n');
    const parsed = parseProbeOutput(out);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.hostEpochSeconds).toBe(1_800_000_000);
    expect(parsed.value.canUnseal).toBe(true);
    expect(parsed.value.sealingKey).toEqual({ kind: 'ready', spkiDerBase64: SPKI });
    expect(parsed.value.components).toEqual([
      {
        name: 'agent',
        token: { kind: 'jwt', headerAndPayload: 'aGVhZA.cGF5' },
        registrationFileAgeSeconds: null,
        running: true,
      },
      { name: 'guac', token: { kind: 'none' }, registrationFileAgeSeconds: 12, running: false },
      {
        name: 'rdp_gateway',
        token: { kind: 'unreadable' },
        registrationFileAgeSeconds: null,
        running: 'unknown',
      },
    ]);
  });

  it('reads unseal=0 as a host that cannot unseal, and a host line without unseal= the same way', () => {
    // Act
    const cannot = parseProbeOutput('ktr-probe v1\nhost unseal=0 now=1\nend');
    const silent = parseProbeOutput('ktr-probe v1\nhost now=1\nend');

    // Assess
    expect(cannot).toMatchObject({ ok: true, value: { canUnseal: false } });
    expect(silent).toMatchObject({ ok: true, value: { canUnseal: false } });
  });

  it.each([
    ['garbage', 'does not start'],
    ['ktr-probe v1\nhost unseal=1 now=1', 'incomplete'],
    [
      'ktr-probe v1\nhost unseal=1 now=1\ncomp mystery token=none reg=absent running=true\nend',
      'unknown component',
    ],
    ['ktr-probe v1\nhost unseal=1 now=1\ncomp agent token=a.b.c reg=absent running=true\nend', 'bad token'],
    ['ktr-probe v1\nrm -rf /\nend', 'expected key=value'],
    ['ktr-probe v1\ncomp agent token=none reg=absent running=true\nend', 'no host line'],
  ])('rejects %j with a problem mentioning "%s"', (out, problem) => {
    const parsed = parseProbeOutput(out);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problem).toContain(problem);
  });
});

describe('parsePushOutput', () => {
  it('reads written and failed outcomes', () => {
    const parsed = parsePushOutput(
      [
        'ktr-push v1',
        'host result=unsealed',
        'host waited=2',
        'comp agent push=written token=aGVhZA.cGF5 reg=absent running=true',
        'comp guac push=failed reason=write-denied',
        'end',
      ].join('\n'),
    );
    expect(parsed).toEqual({
      ok: true,
      value: {
        delivered: true,
        waitedSeconds: 2,
        outcomes: [
          {
            kind: 'written',
            after: {
              name: 'agent',
              token: { kind: 'jwt', headerAndPayload: 'aGVhZA.cGF5' },
              registrationFileAgeSeconds: null,
              running: true,
            },
          },
          { kind: 'failed', name: 'guac', reason: 'write-denied' },
        ],
      },
    });
  });
  it('reads a file age below zero (the host clock stepped back) as zero, never negative', () => {
    // Prepare
    const out = 'ktr-push v1\ncomp agent push=written token=aGVhZA.cGF5 reg=-5 running=true\nend';

    // Act
    const parsed = parsePushOutput(out);

    // Assess
    expect(parsed.ok && parsed.value.outcomes[0]).toMatchObject({
      kind: 'written',
      after: { registrationFileAgeSeconds: 0 },
    });
  });
  it('reads whether the push restarted the service, and leaves it out when the host does not say', () => {
    // Prepare
    const out = [
      'ktr-push v1',
      'comp windows push=written token=aGVhZA.cGF5 reg=absent running=true restarted=true',
      'comp agent push=written token=aGVhZA.cGF5 reg=absent running=true restarted=false',
      'comp guac push=written token=aGVhZA.cGF5 reg=absent running=true',
      'end',
    ].join('\n');

    // Act
    const parsed = parsePushOutput(out);

    // Assess
    const afters = parsed.ok ? parsed.value.outcomes.map((o) => (o.kind === 'written' ? o.after : o)) : [];
    expect(afters.map((a) => ('restarted' in a ? a.restarted : 'absent'))).toEqual([true, false, 'absent']);
  });
  it('rejects a push line without a known outcome', () => {
    expect(parsePushOutput('ktr-push v1\ncomp agent push=maybe\nend').ok).toBe(false);
  });
});

describe('what an SSM Agent too old for ENV_VAR parameters and a late push print', () => {
  it('reads a probe that ran without its parameters as a problem that says to update the agent', () => {
    // Prepare
    const out = 'ktr-probe v1\nhost error=missing-parameters\nend\n';

    // Act
    const parsed = parseProbeOutput(out);

    // Assess
    expect(parsed).toEqual({ ok: false, problem: MISSING_PARAMETERS_PROBLEM });
    expect(MISSING_PARAMETERS_PROBLEM).toMatch(/without its parameters.*AWS-UpdateSSMAgent/);
  });

  it('reads a push that ran without its parameters as the same problem', () => {
    // Act
    const parsed = parsePushOutput('ktr-push v1\nhost error=missing-parameters\nend\n', ['agent']);

    // Assess
    expect(parsed).toEqual({ ok: false, problem: MISSING_PARAMETERS_PROBLEM });
  });

  it('turns a push refused as too late into a failed outcome for every component it carried', () => {
    // Act
    const parsed = parsePushOutput('ktr-push v1\nhost result=too-late\nend\n', ['agent', 'guac']);

    // Assess
    expect(parsed).toEqual({
      ok: true,
      value: {
        delivered: false,
        tooLate: true,
        waitedSeconds: null,
        outcomes: [
          { kind: 'failed', name: 'agent', reason: 'too-late' },
          { kind: 'failed', name: 'guac', reason: 'too-late' },
        ],
      },
    });
    expect(describePushFailure('too-late')).toMatch(/arrived after the run gave up/);
  });
});

describe('what a damaged or unexpected report becomes', () => {
  const probe = (...body: string[]) =>
    ['ktr-probe v1', 'host unseal=1 now=1800000000', ...body, 'end'].join('\n');
  const push = (...body: string[]) => ['ktr-push v1', ...body, 'end'].join('\n');
  const comp = (name: string, fields: string) => `comp ${name} ${fields}`;

  it.each([
    [
      'a file age that is not a number',
      probe(comp('agent', 'token=none reg=old running=true')),
      'component agent: bad reg field',
    ],
    [
      'a component without a file age',
      probe(comp('agent', 'token=none running=true')),
      'component agent: bad reg field',
    ],
    [
      'a running field other than true, false or unknown',
      probe(comp('agent', 'token=none reg=absent running=yes')),
      'component agent: bad running field',
    ],
    [
      'a delivered field that is not a number',
      probe(comp('agent', 'token=none reg=5 running=true delivered=-3')),
      'component agent: bad delivered field',
    ],
    [
      'a component field without "="',
      probe('comp agent token=none reg=absent running'),
      'expected key=value, got "running"',
    ],
    [
      'a host clock that is not a whole number',
      'ktr-probe v1\nhost unseal=1 now=soon\nend',
      'bad host clock field',
    ],
    ['a host line without a clock', 'ktr-probe v1\nhost unseal=1\nend', 'bad host clock field'],
    ['a key too short to be an RSA key', probe('key spki=AAAA'), 'bad key line'],
    ['a key error that is no reason word', probe('key error=Permission_denied'), 'bad key line'],
    ['a key line with neither', probe('key'), 'bad key line'],
    ['a line of unknown kind', probe('disk free=10'), 'unexpected line "disk free=10"'],
    [
      'a long unknown component name, clipped at 40 characters',
      probe(comp('x'.repeat(50), 'token=none reg=absent running=true')),
      `unknown component "${'x'.repeat(40)}…"`,
    ],
    [
      'an unknown component name of 41 characters, clipped',
      probe(comp('x'.repeat(41), 'token=none reg=absent running=true')),
      `unknown component "${'x'.repeat(40)}…"`,
    ],
    [
      'an unknown component name of 40 characters, quoted in full',
      probe(comp('x'.repeat(40), 'token=none reg=absent running=true')),
      `unknown component "${'x'.repeat(40)}"`,
    ],
    ['a component line without a name', probe('comp'), 'unknown component ""'],
    [
      'a field with an empty key',
      'ktr-probe v1\nhost unseal=1 now=1800000000 =1\nend',
      'expected key=value, got "=1"',
    ],
    [
      'a file age followed by other characters',
      probe(comp('agent', 'token=none reg=5s running=true')),
      'component agent: bad reg field',
    ],
    [
      'a file age preceded by other characters',
      probe(comp('agent', 'token=none reg=v5 running=true')),
      'component agent: bad reg field',
    ],
    [
      'a delivered age followed by other characters',
      probe(comp('agent', 'token=none reg=5 running=true delivered=20s')),
      'component agent: bad delivered field',
    ],
    ['a key one character short of 300', probe(`key spki=${'A'.repeat(299)}`), 'bad key line'],
  ])('rejects a probe with %s', (_, output, problem) => {
    expect(parseProbeOutput(output)).toStrictEqual({ ok: false, problem });
  });

  it('reads a sealing key the host could not make, and a delivered age only while the file waits', () => {
    // Act
    const parsed = parseProbeOutput(
      probe(
        'key error=openssl-failed',
        comp('agent', 'token=none reg=30 running=true delivered=20'),
        comp('guac', 'token=none reg=absent running=true delivered=20'),
      ),
    );

    // Assess
    expect(parsed.ok && parsed.value.sealingKey).toStrictEqual({ kind: 'error', reason: 'openssl-failed' });
    expect(parsed.ok && parsed.value.components.map((c) => c.firstDeliveredAgeSeconds)).toStrictEqual([
      20,
      undefined,
    ]);
  });

  it.each([
    [
      'nothing a push prints',
      'ktr-probe v1\nhost unseal=1 now=1\nend',
      'output does not start with "ktr-push v1"',
    ],
    ['a host field without "="', push('host waited'), 'expected key=value, got "waited"'],
    [
      'a wait that is not a number of seconds',
      push('host result=no-delivery waited=soon'),
      'bad waited field',
    ],
    ['a wait with a unit after it', push('host result=no-delivery waited=12s'), 'bad waited field'],
    ['a wait with a sign before it', push('host result=no-delivery waited=-12'), 'bad waited field'],
    ['a line of unknown kind', push('key spki=AAAA'), 'unexpected line "key spki=AAAA"'],
    ['a component field without "="', push('comp agent push'), 'expected key=value, got "push"'],
    [
      'an unknown component',
      push('comp mystery push=written token=none reg=absent running=true'),
      'unknown component "mystery"',
    ],
    ['a failure without a reason', push('comp agent push=failed'), 'component agent: bad reason'],
    [
      'a failure reason that is no reason word',
      push('comp agent push=failed reason=Disk_Full'),
      'component agent: bad reason',
    ],
    [
      'a written component with a bad token',
      push('comp agent push=written token=%% reg=absent running=true'),
      'component agent: bad token field',
    ],
    ['a component line without a name', push('comp'), 'unknown component ""'],
    [
      'an unknown component, even one that only failed',
      push('comp mystery push=failed reason=write-denied'),
      'unknown component "mystery"',
    ],
    [
      'an outcome other than written or failed, even beside a full sighting',
      push('comp agent push=maybe token=aGVhZA.cGF5 reg=absent running=true'),
      'component agent: bad push field',
    ],
  ])('rejects a push with %s', (_, output, problem) => {
    expect(parsePushOutput(output, ['agent'])).toStrictEqual({ ok: false, problem });
  });

  it('accepts a sealing key from 300 base64 characters up (an RSA-2048 key has 392)', () => {
    // Act
    const parsed = parseProbeOutput(probe(`key spki=${'A'.repeat(300)}`));

    // Assess
    expect(parsed.ok && parsed.value.sealingKey).toStrictEqual({
      kind: 'ready',
      spkiDerBase64: 'A'.repeat(300),
    });
  });

  it('ignores blank lines inside a report, and spaces or a carriage return at the end of a line', () => {
    // Prepare: what a Windows host prints (CRLF), with padded lines and blank lines between them
    const probeOut = [
      'ktr-probe v1  ',
      '',
      'host unseal=1 now=1800000000 ',
      '   ',
      'comp guac token=none reg=absent running=true\t',
      'end ',
      '',
    ].join('\r\n');
    const pushOut = ['ktr-push v1 ', '', 'host waited=3  ', '', 'end'].join('\r\n');

    // Act
    const probeParsed = parseProbeOutput(probeOut);
    const pushParsed = parsePushOutput(pushOut);

    // Assess
    expect(probeParsed).toStrictEqual({
      ok: true,
      value: {
        hostEpochSeconds: 1_800_000_000,
        canUnseal: true,
        sealingKey: null,
        components: [
          { name: 'guac', token: { kind: 'none' }, registrationFileAgeSeconds: null, running: true },
        ],
      },
    });
    expect(pushParsed).toStrictEqual({
      ok: true,
      value: { delivered: true, waitedSeconds: 3, outcomes: [] },
    });
  });

  it('reads a push that found no delivery for its host, and how long it waited', () => {
    expect(parsePushOutput(push('host result=no-delivery waited=17'), ['agent'])).toStrictEqual({
      ok: true,
      value: { delivered: false, waitedSeconds: 17, outcomes: [] },
    });
  });
});

describe('what a forged or repeated line in a report becomes', () => {
  const probe = (...body: string[]) =>
    ['ktr-probe v1', 'host unseal=1 now=1800000000', ...body, 'end'].join('\n');
  const push = (...body: string[]) => ['ktr-push v1', 'host result=unsealed', ...body, 'end'].join('\n');
  const WRITTEN = 'token=aGVhZA.cGF5 reg=absent running=true';

  it.each([
    [
      'a second line for one component',
      probe(`comp agent ${WRITTEN}`, `comp agent ${WRITTEN}`),
      'duplicate line for component agent',
    ],
    ['a second host line', probe('host unseal=1 now=1800000001'), 'duplicate host line'],
    ['a second key line', probe(`key spki=${SPKI}`, 'key error=keygen-failed'), 'duplicate key line'],
  ])('rejects a probe with %s', (_, output, problem) => {
    expect(parseProbeOutput(output)).toStrictEqual({ ok: false, problem });
  });

  it.each([
    [
      'a component reported failed, then written (a line a traced writer could add)',
      push(
        'host waited=1',
        'comp agent push=failed reason=write-failed',
        `comp agent push=written ${WRITTEN}`,
      ),
      'duplicate line for component agent',
    ],
    [
      'a line for a component the push did not carry',
      push('host waited=1', `comp agent push=written ${WRITTEN}`, `comp guac push=written ${WRITTEN}`),
      'a line for component guac, which the push did not carry',
    ],
    ['a second result', push('host result=unsealed waited=1'), 'duplicate host result'],
    ['a second wait', push('host waited=1', 'host waited=2'), 'duplicate host waited'],
  ])('rejects a push with %s', (_, output, problem) => {
    expect(parsePushOutput(output, ['agent'])).toStrictEqual({ ok: false, problem });
  });

  it('reads a push that stood back from a component another run got to first, with how the component is now', () => {
    // Act
    const parsed = parsePushOutput(
      push(
        'host waited=0',
        'comp agent push=skipped reason=already-waiting token=aGVhZA.cGF5 reg=2 running=true',
      ),
      ['agent'],
    );

    // Assess
    expect(parsed).toStrictEqual({
      ok: true,
      value: {
        delivered: true,
        waitedSeconds: 0,
        outcomes: [
          {
            kind: 'skipped',
            reason: 'already-waiting',
            after: {
              name: 'agent',
              token: { kind: 'jwt', headerAndPayload: 'aGVhZA.cGF5' },
              registrationFileAgeSeconds: 2,
              running: true,
            },
          },
        ],
      },
    });
    expect(
      parsePushOutput(push('comp agent push=skipped reason=no-reason token=none reg=2 running=true')),
    ).toStrictEqual({ ok: false, problem: 'component agent: bad skip reason' });
  });

  it('quotes host text in a problem with every control character made visible, never as it came', () => {
    // Prepare: terminal escapes a host (or whoever controls its output) could print.
    const output = probe('\u001b[2J\u001b]0;owned\u0007 x=1');

    // Act
    const parsed = parseProbeOutput(output);

    // Assess
    expect(parsed).toStrictEqual({
      ok: false,
      problem: 'unexpected line "\\u{1b}[2J\\u{1b}]0;owned\\u{7} x=1"',
    });
  });
});
