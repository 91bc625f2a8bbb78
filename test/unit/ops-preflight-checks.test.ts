import { describe, expect, it } from 'vitest';
import {
  alarmsCheck,
  documentsCheck,
  fleetCheck,
  preflightFailed,
  renderChecks,
  secretCheck,
  secretErrorCheck,
} from '../../infra/ops/preflight-checks.ts';
import { ALARM_IDS, alarmName } from '../../shared/names.ts';

const TOKEN = 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx';
const settings = {
  secretId: 'kasm/prod/registration-token',
  fleetTag: { key: 'kasm:reconcile', value: 'true' },
};

describe('secretCheck', () => {
  it('passes a plain token and a JSON field, saying which, and never shows the value', () => {
    const plain = secretCheck(settings, `${TOKEN}\n`);
    const json = secretCheck({ ...settings, secretJsonField: 'token' }, JSON.stringify({ token: TOKEN }));
    expect(plain).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('(plain string, 48 characters)'),
    });
    expect(json).toMatchObject({
      status: 'pass',
      detail: expect.stringContaining('(JSON field "token", 48 characters)'),
    });
    expect(JSON.stringify([plain, json])).not.toContain(TOKEN);
  });

  it('fails a plain token where JSON is configured, and a binary secret, with the fix', () => {
    const notJson = secretCheck({ ...settings, secretJsonField: 'token' }, TOKEN);
    expect(notJson).toMatchObject({ status: 'fail', fix: expect.stringContaining('in field "token"') });
    expect(JSON.stringify(notJson)).not.toContain(TOKEN);
    expect(secretCheck(settings, undefined)).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('binary'),
    });
    expect(secretErrorCheck(settings, 'AccessDeniedException').fix).toContain(
      'secretsmanager:GetSecretValue',
    );
  });
});

describe('secretErrorCheck', () => {
  it("gives the secret's own errors their fix, and any other error the CLI's hint instead of the console", () => {
    // Act
    const missing = secretErrorCheck(settings, 'ResourceNotFoundException', 'a hint it does not need');
    const undecryptable = secretErrorCheck(settings, 'DecryptionFailure');
    const credentials = secretErrorCheck(
      settings,
      'CredentialsProviderError',
      'AWS did not accept your credentials: sign in again',
    );
    const unknown = secretErrorCheck(settings, 'InternalServiceError');

    // Assess
    expect(missing.fix).toMatch(
      /^create it: aws secretsmanager create-secret --name kasm\/prod\/registration-token /,
    );
    expect(undecryptable.fix).toBe("your identity needs kms:Decrypt on the secret's KMS key to check it");
    expect(credentials).toStrictEqual({
      name: 'secret',
      status: 'fail',
      detail: 'kasm/prod/registration-token could not be read (CredentialsProviderError)',
      fix: 'AWS did not accept your credentials: sign in again',
    });
    expect(unknown.fix).toBe('check the secret in the Secrets Manager console');
  });
});

describe('fleetCheck', () => {
  const node = (
    instanceId: string,
    pingStatus = 'Online',
    agentVersion = '3.3.2746.0',
    platform = 'Linux',
  ) => ({
    instanceId,
    pingStatus,
    agentVersion,
    platform,
  });

  it('passes online nodes with current agents, warns of the rest, and fails when none answers', () => {
    expect(fleetCheck(settings, [node('i-1'), node('mi-2')]).status).toBe('pass');
    const warned = fleetCheck(settings, [
      node('i-1'),
      node('i-2', 'Online', '3.1.0.0'),
      node('i-3', 'Online', '3.3.2746.0', 'MacOS'),
    ]);
    expect(warned.status).toBe('warn');
    expect(warned.items).toStrictEqual([
      'i-1  Linux  Online  agent 3.3.2746.0',
      'i-2  Linux  Online  agent 3.1.0.0  (agent older than 3.3.2746.0: update it)',
      'i-3  MacOS  Online  agent 3.3.2746.0  (platform not supported)',
    ]);
    expect(fleetCheck(settings, [node('i-1', 'ConnectionLost')]).status).toBe('fail');
  });
});

describe('documentsCheck', () => {
  const expected = { probe: 'a'.repeat(64), push: 'b'.repeat(64) };
  const deployed = { probe: { name: 'P', hash: expected.probe }, push: { name: 'Q', hash: expected.push } };
  const found = {
    probe: { hash: expected.probe, status: 'Active' },
    push: { hash: expected.push, status: 'Active' },
  };

  it('passes when the function pins this checkout and SSM holds that content', () => {
    expect(documentsCheck(expected, deployed, found, 'prod').status).toBe('pass');
  });

  it('fails a deployment of another checkout, a missing document and other content under the name', () => {
    const older = { ...deployed, push: { name: 'Q', hash: 'c'.repeat(64) } };
    expect(documentsCheck(expected, older, found, 'prod').detail).toBe(
      'push: the function pins cccccccccccc, this checkout has bbbbbbbbbbbb',
    );
    expect(documentsCheck(expected, deployed, { probe: found.probe }, 'prod').detail).toBe(
      'push: Q does not exist in SSM',
    );
    const replaced = { ...found, probe: { hash: 'd'.repeat(64), status: 'Active' } };
    expect(documentsCheck(expected, deployed, replaced, 'prod')).toMatchObject({
      status: 'fail',
      fix: expect.stringContaining('npx cdk deploy -c env=prod'),
    });
  });
});

describe('alarmsCheck and the rendering', () => {
  const ALARMS = ALARM_IDS.map((id) => alarmName('dev', id));

  it('fails alarms without a target or without a confirmed subscription, and passes one confirmed', () => {
    expect(alarmsCheck(ALARMS, [], [], 'dev').detail).toBe('the environment has no alarms');
    expect(alarmsCheck(ALARMS, ALARMS, [], 'dev').fix).toContain(
      'set "alarmEmail" or "alarmTopicArn" for dev in cdk.json',
    );
    expect(
      alarmsCheck(ALARMS, ALARMS, [{ topicArn: 'arn:t', confirmed: 0, pending: 0 }], 'dev').fix,
    ).toContain('aws sns subscribe');
    expect(
      alarmsCheck(
        ALARMS,
        ALARMS,
        [
          { topicArn: 'arn:t', error: 'AuthorizationError' },
          { topicArn: 'arn:u', confirmed: 1 },
        ],
        'dev',
      ).status,
    ).toBe('pass');
  });

  it('names the alarms of the stack that CloudWatch does not have', () => {
    // Act
    const check = alarmsCheck(
      ALARMS,
      ALARMS.filter((name) => !name.endsWith('-RunNotOk') && !name.endsWith('-NoSuccessfulRun')),
      [{ topicArn: 'arn:u', confirmed: 1 }],
      'dev',
    );

    // Assess
    expect(check).toStrictEqual({
      name: 'alarms',
      status: 'fail',
      detail: `4 of the stack's 6 alarms exist; missing: KasmTokenReconciler-dev-RunNotOk, KasmTokenReconciler-dev-NoSuccessfulRun`,
      fix: 'npx cdk deploy -c env=dev from this checkout (every stack has all 6)',
    });
  });

  it('prints one line per check with its fix, items under it, and fails only on a failed check', () => {
    const checks = [
      { name: 'secret', status: 'pass' as const, detail: 'ok' },
      { name: 'fleet nodes', status: 'warn' as const, detail: '2 nodes', fix: 'start them', items: ['i-1'] },
    ];
    expect(renderChecks(checks)).toBe(
      'PASS  secret       ok\nWARN  fleet nodes  2 nodes — fix: start them\n                   i-1\n',
    );
    expect(preflightFailed(checks)).toBe(false);
    expect(preflightFailed([...checks, { name: 'alarms', status: 'fail', detail: 'x' }])).toBe(true);
  });
});
