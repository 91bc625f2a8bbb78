/**
 * Self-test of the leak search the end-to-end tests rely on: a token planted in each form
 * and each kind of place is found, and clean text (the sealed token included) is not.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sealFor } from '../../lambda/seal.ts';
import { artifactSources, type HostTree, type RunArtifacts } from '../e2e/run-artifacts.ts';
import {
  describeLeaks,
  type LeakForm,
  type LeakSource,
  leakNeedles,
  PARTIAL_LENGTH,
  scanForLeaks,
  stableBase64,
} from '../leak-scanner.ts';
import type { RecordedCall } from '../proving-ground/types.ts';

/** The end-to-end tests' token: base64 letters only, so URL and JSON forms equal the raw one. */
const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';
/**
 * A token every encoding changes (space, "+", "/", quotes, backslash, non-ASCII, "&", "=", "~"),
 * so that each form is distinct: its "???" puts a "/" in its base64 at every byte alignment, so
 * base64url differs too. 56 UTF-8 bytes, not a multiple of 3, so the base64 of a longer text
 * never holds the token's own complete base64.
 */
const SPECIAL = 'reg+tok/en "kasm" \\ é&=?~MjAyNzk0MmUtZjQzMS00NDZlLW???O';

type Payload = string | Buffer;

/** `before` + payload + `after`, as a Buffer when the payload is bytes. */
function embed(before: string, payload: Payload, after: string): Payload {
  if (typeof payload === 'string') return `${before}${payload}${after}`;
  return Buffer.concat([Buffer.from(before), payload, Buffer.from(after)]);
}

/** A JSON encoder that escapes every non-ASCII character (as Python's json.dumps does by default). */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[^\x20-\x7e]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Each way the token could be transformed on its way out, made with the encoders that would do it. */
const FORMS: readonly [description: string, form: LeakForm, encode: (token: string) => Payload][] = [
  ['as is', 'raw', (t) => t],
  ['base64-encoded', 'base64', (t) => Buffer.from(t).toString('base64')],
  ['base64url-encoded', 'base64url', (t) => Buffer.from(t).toString('base64url')],
  ['hex-encoded in lower case', 'hex', (t) => Buffer.from(t).toString('hex')],
  ['hex-encoded in upper case', 'HEX', (t) => Buffer.from(t).toString('hex').toUpperCase()],
  ['inside a longer text that is hex-encoded', 'hex', (t) => Buffer.from(`pw=${t};`).toString('hex')],
  ['URL-encoded with encodeURIComponent', 'url-encoded', (t) => `?token=${encodeURIComponent(t)}`],
  [
    'URL-encoded with lower-case escapes',
    'url-encoded (lower-case escapes)',
    (t) => encodeURIComponent(t).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
  ],
  ['form-encoded (spaces as "+")', 'form-encoded', (t) => new URLSearchParams({ token: t }).toString()],
  ['JSON-escaped', 'json-escaped', (t) => JSON.stringify({ token: t })],
  ['JSON-escaped with non-ASCII as \\u escapes', 'json-escaped (ASCII only)', (t) => asciiJson({ token: t })],
  [
    'JSON-escaped twice (JSON inside a JSON string)',
    'json-escaped twice',
    (t) => JSON.stringify(JSON.stringify({ t })),
  ],
  ['encoded as UTF-16LE (a Windows text file)', 'utf-16le', (t) => Buffer.from(`token: ${t}\r\n`, 'utf16le')],
  // The byte after the token ("é", 0xC3) changes the base64 characters it shares with the token's
  // end, so what is found is the embedded token, not by chance the token's own unpadded base64.
  ...([0, 1, 2] as const).flatMap((offset): [string, LeakForm, (t: string) => Payload][] => [
    [
      `inside a longer text base64-encoded, ${offset} bytes past a 3-byte boundary`,
      'inside longer base64',
      (t) => Buffer.from(`${'xyz'.slice(0, offset)}abc token=${t}é`).toString('base64'),
    ],
    [
      `inside a longer text base64url-encoded, ${offset} bytes past a 3-byte boundary`,
      'inside longer base64url',
      (t) => Buffer.from(`${'xyz'.slice(0, offset)}abc token=${t}é`).toString('base64url'),
    ],
  ]),
  ['cut short after 30 characters', 'prefix', (t) => `${t.slice(0, 30)}…`],
  ['missing its first 10 characters', 'suffix', (t) => `…${t.slice(10)}`],
];

/** Each kind of place a run leaves text in, shaped like the real thing. */
const PLACES: readonly [where: string, place: (payload: Payload) => Payload][] = [
  ['report', (p) => embed('{"ok":false,"hosts":[{"components":[{"name":"agent","reason":"', p, '"}]}]}')],
  ['stdout line 7', (p) => embed('{"level":"INFO","message":"push","output":"', p, '","service":"ktr"}')],
  ['stderr line 2', (p) => embed('{"level":"ERROR","message":"push failed","error":"', p, '"}')],
  [
    'aws call #4 ssm.SendCommand request',
    (p) => embed('{"DocumentName":"ktr-push","Parameters":{"SealedToken":["', p, '"]}}'),
  ],
  [
    'aws call #5 ssm.GetCommandInvocation response',
    (p) => embed('{"Status":"Success","StandardOutputContent":"ktr-push v1\\n', p, '\\nend\\n"}'),
  ],
  ['step #2 on i-0a1b2c3d4e5f60001 env SSM_SealedToken', (p) => p],
  [
    'step #2 on i-0a1b2c3d4e5f60001 stdout',
    (p) => embed('ktr-probe v1\nhost now=1700000000 unseal=1\n', p, '\nend\n'),
  ],
  [
    'host i-0a1b2c3d4e5f60001 file opt/kasm/current/conf/app/agent/agent.app.config.yaml',
    (p) => {
      const text = embed('manager:\n  token: ', p, '\n');
      return typeof text === 'string' ? Buffer.from(text) : text;
    },
  ],
];

describe('the leak scanner', () => {
  it.each(FORMS)('finds the token %s in every kind of place a run leaves text in', (_, form, encode) => {
    // Prepare: the token, transformed, planted in a report, a log line, an AWS body, a step, a file
    const payload = encode(SPECIAL);
    const sources: LeakSource[] = PLACES.map(([where, place]) => ({ where, text: place(payload) }));

    // Act
    const leaks = scanForLeaks(SPECIAL, sources);

    // Assess: each place is named once, with the form the token took there
    expect(leaks).toEqual(PLACES.map(([where]) => ({ where, form, offset: expect.any(Number), count: 1 })));
  });

  it('searches each form once: forms that equal the raw token are not searched twice', () => {
    // Prepare: the e2e token is all base64 letters, so its URL and JSON forms are the token itself
    const forms = leakNeedles(TOKEN).map((n) => n.form);

    // Act
    const leaks = scanForLeaks(TOKEN, [{ where: 'report', text: `{"reason":"${TOKEN}"}` }]);

    // Assess
    expect(forms).not.toContain('url-encoded');
    expect(forms).not.toContain('json-escaped');
    expect(forms).toEqual(expect.arrayContaining(['raw', 'base64', 'hex', 'HEX', 'inside longer base64']));
    expect(leaks).toEqual([{ where: 'report', form: 'raw', offset: 11, count: 1 }]);
  });

  it('finds the base64 of a longer text holding the token whatever bytes come before and after it', () => {
    // Prepare: every alignment, with surroundings that change the edge characters
    const surroundings = ['', 'a', 'bc', 'def', '\u00ff', '\n\t', 'token=', '{"k":"'];
    const texts = surroundings.flatMap((before) =>
      surroundings.map((after) => Buffer.from(`${before}${TOKEN}${after}`).toString('base64')),
    );

    // Act
    const found = texts.map((text, i) => scanForLeaks(TOKEN, [{ where: `text ${i}`, text }]).length);

    // Assess
    expect(found).toEqual(texts.map(() => 1));
  });

  it('keeps only the base64 characters that the token alone decides at each alignment', () => {
    // Prepare: 6 token bytes, so each alignment leaves whole groups of token bytes only
    const token = Buffer.from('ABCDEF');

    // Act
    const stable = ([0, 1, 2] as const).map((a) => stableBase64(token, a));

    // Assess: groups "ABC DEF"; "?AB CDE F??" keeps CDE; "??A BCD EF?" keeps BCD
    expect(stable).toEqual([
      Buffer.from('ABCDEF').toString('base64'),
      Buffer.from('CDE').toString('base64'),
      Buffer.from('BCD').toString('base64'),
    ]);
  });

  it('counts repeated occurrences in one source and reports the first byte offset', () => {
    // Prepare
    const text = `é ${TOKEN} and again ${TOKEN}`;

    // Act
    const leaks = scanForLeaks(TOKEN, [{ where: 'stdout line 1', text }]);

    // Assess: offset in UTF-8 bytes ("é" is two)
    expect(leaks).toEqual([{ where: 'stdout line 1', form: 'raw', offset: 3, count: 2 }]);
  });

  it('finds nothing in clean text: the sealed token, a shorter piece of it, and another token of the same shape', () => {
    // Prepare: what the product really sends, the token sealed to a host key (RSA-OAEP, base64)
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const spki = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    const sealed = sealFor(spki, TOKEN);
    const sources: LeakSource[] = [
      { where: 'aws call #1 ssm.SendCommand request', text: `{"Parameters":{"SealedToken":["${sealed}"]}}` },
      { where: 'step #1 env SSM_SealedToken', text: sealed },
      { where: 'step #1 stdout', text: `ktr-probe v1\nkey spki=${spki}\nend\n` },
      { where: 'stdout line 1', text: `token starts ${TOKEN.slice(0, PARTIAL_LENGTH - 1)}` },
      {
        where: 'report',
        text: JSON.stringify({
          other: Buffer.from('9d0c63a5-7b1e-4f22-8c3d-5e6f7a8b9c0d').toString('base64'),
        }),
      },
    ];

    // Act
    const leaks = scanForLeaks(TOKEN, sources);

    // Assess
    expect(leaks).toEqual([]);
  });

  it('describes a leak by place, form and offset without repeating the token in any form', () => {
    // Prepare
    const leaks = scanForLeaks(SPECIAL, [
      { where: 'report', text: SPECIAL },
      { where: 'stderr line 1', text: Buffer.from(SPECIAL).toString('base64') },
    ]);

    // Act
    const description = describeLeaks(leaks);

    // Assess
    expect(description).toBe('report: raw at byte 0\nstderr line 1: base64 at byte 0');
    expect(scanForLeaks(SPECIAL, [{ where: 'description', text: description }])).toEqual([]);
  });

  it('refuses to search for a token so short that it would match unrelated text', () => {
    expect(() => scanForLeaks('short', [{ where: 'report', text: 'short' }])).toThrow(/too short/);
  });
});

// ------------------------------------------------------------------------------------------------

const HOST = 'i-0a1b2c3d4e5f60001';
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A host tree with an agent config and an empty state directory; nothing holds the token. */
function hostTree(): HostTree & { configDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'ktr-leak-'));
  roots.push(root);
  const configDir = join(root, 'opt/kasm/current/conf/app/agent');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(join(root, 'var/lib/kasm-token-reconciler'), { recursive: true });
  writeFileSync(join(configDir, 'agent.app.config.yaml'), 'manager:\n  token: aGVhZGVy.cGF5bG9hZA.sig\n');
  return { instanceId: HOST, root, configDir, deliveryFiles: [join(configDir, 'registration_token.txt')] };
}

function call(operation: string, params: object, response: object, service: RecordedCall['service'] = 'ssm') {
  return {
    service,
    operation,
    params,
    at: '2026-01-01T00:00:00.000Z',
    status: 200,
    requestBody: JSON.stringify(params),
    responseBody: JSON.stringify(response),
  } satisfies RecordedCall;
}

/** A clean run's artifacts: one call of each kind, one step, one host. */
function cleanRun(host: HostTree, change: (a: Mutable) => void = () => undefined): RunArtifacts {
  const artifacts: Mutable = {
    report: { ok: true, hosts: [{ instanceId: HOST, components: [{ name: 'agent', status: 'recovered' }] }] },
    stdout: ['{"level":"INFO","message":"run report"}'],
    stderr: ['{"level":"WARN","message":"throttled, retrying"}'],
    secretId: 'kasm/registration-token',
    awsCalls: [
      call(
        'GetSecretValue',
        { SecretId: 'kasm/registration-token' },
        { SecretString: `${TOKEN}\n` },
        'secretsmanager',
      ),
      call(
        'SendCommand',
        { DocumentName: 'ktr-push', Parameters: { SealedToken: ['c2VhbGVk'] } },
        { Command: {} },
      ),
      call('GetCommandInvocation', { CommandId: 'c-1' }, { StandardOutputContent: 'ktr-push v1\nend\n' }),
    ],
    steps: [
      {
        run: {
          instanceId: HOST,
          action: 'aws:runShellScript',
          script: 'true',
          env: { SSM_SealedToken: 'c2VhbGVk' },
          timeoutSeconds: 30,
        },
        result: { exitCode: 0, stdout: 'ktr-push v1\nend\n', stderr: '', timedOut: false },
      },
    ],
    hosts: [host],
  };
  change(artifacts);
  return artifacts;
}

type Mutable = { -readonly [K in keyof RunArtifacts]: RunArtifacts[K] };

describe('the run artifacts the end-to-end leak check searches', () => {
  const places: readonly [string, RegExp, (a: Mutable, host: ReturnType<typeof hostTree>) => void][] = [
    [
      'the report',
      /^report$/,
      (a) => {
        a.report = { errors: [`bad token ${TOKEN}`] };
      },
    ],
    [
      'a stdout log line',
      /^stdout line 2$/,
      (a) => {
        a.stdout = [...a.stdout, `{"message":"${TOKEN}"}`];
      },
    ],
    [
      'a stderr line',
      /^stderr line 1$/,
      (a) => {
        a.stderr = [`Error: ${TOKEN}`];
      },
    ],
    [
      'an AWS request body',
      /^aws call #4 ssm\.SendCommand request$/,
      (a) => {
        a.awsCalls = [...a.awsCalls, call('SendCommand', { Parameters: { Token: [TOKEN] } }, {})];
      },
    ],
    [
      'an AWS response body',
      /^aws call #4 ssm\.GetCommandInvocation response$/,
      (a) => {
        a.awsCalls = [...a.awsCalls, call('GetCommandInvocation', {}, { StandardErrorContent: TOKEN })];
      },
    ],
    [
      'a host step environment variable',
      /^step #1 on i-0a1b2c3d4e5f60001 env SSM_Token$/,
      (a) => {
        const [step] = a.steps;
        a.steps = [{ ...step!, run: { ...step!.run, env: { SSM_Token: TOKEN } } }];
      },
    ],
    [
      'a host step output',
      /^step #1 on i-0a1b2c3d4e5f60001 stderr$/,
      (a) => {
        const [step] = a.steps;
        a.steps = [{ ...step!, result: { ...step!.result, stderr: `+ echo ${TOKEN}` } }];
      },
    ],
    [
      'a file on the host',
      /^host i-0a1b2c3d4e5f60001 file opt\/kasm\/current\/conf\/app\/agent\/\.reg\.tmp$/,
      (_, host) => {
        writeFileSync(join(host.configDir, '.reg.tmp'), TOKEN);
      },
    ],
  ];

  it('find nothing in a clean run, though the secret reply and the delivered file hold the token by design', () => {
    // Prepare: the token only where it belongs
    const host = hostTree();
    writeFileSync(join(host.configDir, 'registration_token.txt'), `${TOKEN}\n`);

    // Act
    const sources = artifactSources(cleanRun(host));
    const leaks = scanForLeaks(TOKEN, sources);

    // Assess: everything else was searched
    expect(leaks).toEqual([]);
    expect(sources.map((s) => s.where)).toEqual(
      expect.arrayContaining([
        'report',
        'stdout line 1',
        'stderr line 1',
        'aws call #1 secretsmanager.GetSecretValue request',
        'aws call #2 ssm.SendCommand response',
        'step #1 on i-0a1b2c3d4e5f60001 env SSM_SealedToken',
        'host i-0a1b2c3d4e5f60001 file opt/kasm/current/conf/app/agent/agent.app.config.yaml',
      ]),
    );
  });

  it.each(places)('name the token planted in %s', (_, where, plant) => {
    // Prepare
    const host = hostTree();
    const artifacts = cleanRun(host, (a) => plant(a, host));

    // Act
    const leaks = scanForLeaks(TOKEN, artifactSources(artifacts));

    // Assess
    expect(leaks).toEqual([
      { where: expect.stringMatching(where), form: 'raw', offset: expect.any(Number), count: 1 },
    ]);
  });

  it('search a registration_token.txt that is not a component’s delivery file, and another secret’s reply', () => {
    // Prepare: the same name in the state directory, and a second secret holding the token
    const host = hostTree();
    writeFileSync(join(host.root, 'var/lib/kasm-token-reconciler/registration_token.txt'), TOKEN);
    const artifacts = cleanRun(host, (a) => {
      a.awsCalls = [
        ...a.awsCalls,
        call('GetSecretValue', { SecretId: 'other' }, { SecretString: TOKEN }, 'secretsmanager'),
      ];
    });

    // Act
    const leaks = scanForLeaks(TOKEN, artifactSources(artifacts));

    // Assess
    expect(leaks.map((l) => l.where)).toEqual([
      'aws call #4 secretsmanager.GetSecretValue response',
      'host i-0a1b2c3d4e5f60001 file var/lib/kasm-token-reconciler/registration_token.txt',
    ]);
  });

  it('do not follow a symbolic link out of the host tree', () => {
    // Prepare: a link from the host to a file outside it that holds the token
    const host = hostTree();
    const outside = mkdtempSync(join(tmpdir(), 'ktr-outside-'));
    roots.push(outside);
    writeFileSync(join(outside, 'secret'), TOKEN);
    symlinkSync(join(outside, 'secret'), join(host.configDir, 'link'));

    // Act
    const sources = artifactSources(cleanRun(host));

    // Assess: the link is not a regular file of the host; what it points to is not the host's
    expect(sources.map((s) => s.where)).not.toContain(
      'host i-0a1b2c3d4e5f60001 file opt/kasm/current/conf/app/agent/link',
    );
    expect(scanForLeaks(TOKEN, sources)).toEqual([]);
  });
});
