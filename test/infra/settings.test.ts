import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { functionEnvironment } from '../../infra/function-environment.ts';
import { PROJECT_ROOT } from '../../infra/reconciler-function.ts';
import {
  type EnvironmentSettings,
  parseEnvironment,
  SettingsError,
  selectEnvironments,
} from '../../infra/settings.ts';
import { documentNames } from '../../shared/documents/ssm-documents.ts';
import { temporaryCaFile } from './synth-stacks.ts';

const ca = temporaryCaFile();
afterAll(() => ca.remove());

const options = { projectRoot: PROJECT_ROOT };
const minimal = { registrationSecret: { nameOrArn: 'kasm/registration-token' } };

function problemsOf(raw: unknown, name = 'prod'): string {
  try {
    parseEnvironment(name, raw, options);
  } catch (error) {
    if (error instanceof SettingsError) return error.message;
    throw error;
  }
  throw new Error('expected the settings to be rejected');
}

describe('parseEnvironment', () => {
  it('gives an environment that sets only the registration secret every documented default', () => {
    // Act
    const settings = parseEnvironment('dev', minimal, options);

    // Assess
    expect(settings).toStrictEqual({
      name: 'dev',
      schedule: 'rate(5 minutes)',
      fleetTag: { key: 'kasm:reconcile', value: 'true' },
      registrationSecret: { nameOrArn: 'kasm/registration-token' },
      installRoot: '/opt/kasm/current',
      windows: { installDir: 'C:\\Program Files\\Kasm', serviceName: 'Kasm' },
      heartbeatSeconds: 30,
      gracePeriodSeconds: 3600,
      logRetentionDays: 90,
      noSuccessfulRunMinutes: 15,
      consoleTestEvents: true,
      dashboard: true,
    });
  });

  it('keeps every value a full environment sets, with the CA file as an absolute path', () => {
    // Prepare
    const raw = {
      account: '111122223333',
      region: 'eu-west-1',
      schedule: 'cron(0/10 * * * ? *)',
      fleetTag: { key: 'team:kasm', value: 'fleet-a' },
      registrationSecret: {
        nameOrArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kasm/registration-AbCdEf',
        jsonField: 'token',
        kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef',
      },
      kasmApi: { url: 'https://kasm.example.com:8443/', caFile: ca.path },
      installRoot: '/srv/kasm/current',
      windows: { installDir: 'E:\\Apps\\Kasm', serviceName: 'Kasm Agent' },
      heartbeatSeconds: 20,
      gracePeriodSeconds: 0,
      logRetentionDays: 365,
      alarmEmail: 'ops@example.com',
      alarmTopicArn: 'arn:aws:sns:eu-west-1:111122223333:kasm-pager',
      noSuccessfulRunMinutes: 45,
      consoleTestEvents: false,
      dashboard: false,
    };

    // Act
    const settings = parseEnvironment('prod', raw, options);

    // Assess
    expect(settings).toStrictEqual({
      name: 'prod',
      ...raw,
      kasmApi: { url: 'https://kasm.example.com:8443', caFile: ca.path },
    });
  });

  it('resolves a relative CA file path against the project root', () => {
    // Prepare
    const projectRoot = dirname(ca.path);

    // Act
    const settings = parseEnvironment(
      'dev',
      { ...minimal, kasmApi: { url: 'https://kasm.example.com', caFile: 'kasm-ca.pem' } },
      { projectRoot },
    );

    // Assess
    expect(settings.kasmApi?.caFile).toBe(join(projectRoot, 'kasm-ca.pem'));
  });

  it('returns frozen settings, nested objects included', () => {
    // Act
    const settings = parseEnvironment(
      'dev',
      { ...minimal, kasmApi: { url: 'https://kasm.example.com' } },
      options,
    );

    // Assess
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.fleetTag)).toBe(true);
    expect(Object.isFrozen(settings.registrationSecret)).toBe(true);
    expect(Object.isFrozen(settings.kasmApi)).toBe(true);
  });

  it.each([
    ['a missing registration secret', {}, 'environments.prod.registrationSecret: required: an object'],
    [
      'a misspelt setting',
      { ...minimal, fleettag: { key: 'a', value: 'b' } },
      'environments.prod.fleettag: unknown setting (allowed: account, region, schedule, fleetTag,',
    ],
    [
      'a fleet tag key with a character tags cannot hold',
      { ...minimal, fleetTag: { key: 'kasm#reconcile', value: 'true' } },
      'environments.prod.fleetTag.key: expected a tag key of 1 to 128 letters, digits, spaces or _ . : / = + - @, got "kasm#reconcile"',
    ],
    [
      'a fleet tag key in the reserved aws: namespace',
      { ...minimal, fleetTag: { key: 'aws:reconcile', value: 'true' } },
      'environments.prod.fleetTag.key: keys starting with "aws:" are reserved by AWS, got "aws:reconcile"',
    ],
    [
      'an empty fleet tag value',
      { ...minimal, fleetTag: { key: 'kasm:reconcile', value: '' } },
      'environments.prod.fleetTag.value: expected a tag value of 1 to 256 letters, digits, spaces or _ . : / = + - @, got ""',
    ],
    [
      'a fleet tag value with a trailing space',
      { ...minimal, fleetTag: { key: 'kasm:reconcile', value: 'true ' } },
      'environments.prod.fleetTag.value: must not start or end with a space',
    ],
    [
      'a rate of 1 with a plural unit',
      { ...minimal, schedule: 'rate(1 minutes)' },
      'environments.prod.schedule: a rate of 1 takes a singular unit, any other a plural one, got "rate(1 minutes)"',
    ],
    [
      'a schedule that is no Scheduler expression',
      { ...minimal, schedule: 'every 5 minutes' },
      'environments.prod.schedule: expected an EventBridge Scheduler expression such as "rate(5 minutes)"',
    ],
    [
      'a heartbeat of zero',
      { ...minimal, heartbeatSeconds: 0 },
      'environments.prod.heartbeatSeconds: expected a whole number from 1 to 3600, got number 0',
    ],
    [
      'a grace period given as a string',
      { ...minimal, gracePeriodSeconds: '3600' },
      'environments.prod.gracePeriodSeconds: expected a whole number from 0 to 31536000, got "3600"',
    ],
    [
      'a short account id',
      { ...minimal, account: '1234' },
      'environments.prod.account: expected a 12-digit AWS account id, got "1234"',
    ],
    [
      'a secret ARN from another region than the stack',
      {
        region: 'eu-west-1',
        registrationSecret: { nameOrArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:kasm-AbCdEf' },
      },
      "environments.prod.registrationSecret.nameOrArn: the secret must be in the function's region eu-west-1, got one in us-east-1",
    ],
    [
      'a secret ARN without its 6-character suffix',
      { registrationSecret: { nameOrArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kasm' } },
      'environments.prod.registrationSecret.nameOrArn: expected a full secret ARN ending in the 6-character suffix',
    ],
    [
      'a KMS alias instead of a key ARN',
      {
        registrationSecret: {
          nameOrArn: 'kasm/registration-token',
          kmsKeyArn: 'arn:aws:kms:eu-west-1:111122223333:alias/kasm',
        },
      },
      'environments.prod.registrationSecret.kmsKeyArn: expected a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID); aliases cannot be used in IAM policies',
    ],
    [
      'a Kasm API over plain http',
      { ...minimal, kasmApi: { url: 'http://kasm.example.com' } },
      'environments.prod.kasmApi.url: expected an https:// URL such as https://kasm.example.com, got "http://kasm.example.com"',
    ],
    [
      'a CA file that does not exist',
      { ...minimal, kasmApi: { url: 'https://kasm.example.com', caFile: '/nonexistent/kasm-ca.pem' } },
      'environments.prod.kasmApi.caFile: cannot read /nonexistent/kasm-ca.pem: ENOENT',
    ],
    [
      'a CA file that holds no certificate',
      { ...minimal, kasmApi: { url: 'https://kasm.example.com', caFile: join(PROJECT_ROOT, 'cdk.json') } },
      `environments.prod.kasmApi.caFile: ${join(PROJECT_ROOT, 'cdk.json')} holds no PEM certificate`,
    ],
    [
      'a relative install root',
      { ...minimal, installRoot: 'opt/kasm' },
      'environments.prod.installRoot: expected an absolute path of letters, digits, ".", "_", "-" and "/", got "opt/kasm"',
    ],
    [
      'a Windows install folder without a drive',
      { ...minimal, windows: { installDir: 'Program Files\\Kasm' } },
      'environments.prod.windows.installDir: expected a Windows folder path such as C:\\Program Files\\Kasm, got "Program Files\\Kasm"',
    ],
    [
      'a Windows service name with a command in it',
      { ...minimal, windows: { serviceName: 'Kasm; Stop-Computer' } },
      'environments.prod.windows.serviceName: expected a Windows service name',
    ],
    [
      'a log retention CloudWatch does not offer',
      { ...minimal, logRetentionDays: 10 },
      'environments.prod.logRetentionDays: expected one of 1, 3, 5, 7, 14, 30,',
    ],
    [
      'an alarm topic that is not an SNS topic ARN',
      { ...minimal, alarmTopicArn: 'kasm-pager' },
      'environments.prod.alarmTopicArn: expected an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), got "kasm-pager"',
    ],
    [
      'an alarm topic in another region than the stack',
      { ...minimal, region: 'eu-west-1', alarmTopicArn: 'arn:aws:sns:us-east-1:111122223333:pager' },
      'environments.prod.alarmTopicArn: CloudWatch alarms notify topics in their own region eu-west-1, got one in us-east-1',
    ],
    [
      'a no-successful-run window shorter than one schedule period',
      { ...minimal, schedule: 'rate(1 hour)', noSuccessfulRunMinutes: 30 },
      'environments.prod.noSuccessfulRunMinutes: must be at least one schedule period (60 minutes)',
    ],
    [
      'a no-successful-run window longer than a day',
      { ...minimal, noSuccessfulRunMinutes: 2000 },
      'environments.prod.noSuccessfulRunMinutes: expected a whole number from 1 to 1440, got number 2000',
    ],
    [
      'console test events switched off with a string',
      { ...minimal, consoleTestEvents: 'no' },
      'environments.prod.consoleTestEvents: expected true or false, got "no"',
    ],
    [
      'the dashboard switched off with a number',
      { ...minimal, dashboard: 0 },
      'environments.prod.dashboard: expected true or false, got number 0',
    ],
    [
      'an alarm e-mail without a domain',
      { ...minimal, alarmEmail: 'ops' },
      'environments.prod.alarmEmail: expected an e-mail address such as ops@example.com, got "ops"',
    ],
  ])('rejects %s with a message naming the environment and the field', (_case, raw, expected) => {
    // Act
    const message = problemsOf(raw);

    // Assess
    expect(message).toContain(expected);
  });

  it('reports every problem of an environment in one error', () => {
    // Act
    const message = problemsOf({ heartbeatSeconds: -1, region: 'Europe', alarmEmail: 'x' });

    // Assess
    expect(message.split('\n').slice(1)).toStrictEqual([
      '  environments.prod.region: expected an AWS region such as eu-west-1, got "Europe"',
      '  environments.prod.registrationSecret: required: an object {"nameOrArn": "kasm/registration-token"}, got nothing',
      '  environments.prod.heartbeatSeconds: expected a whole number from 1 to 3600, got number -1',
      '  environments.prod.alarmEmail: expected an e-mail address such as ops@example.com, got "x"',
    ]);
  });

  it.each([
    ['rate(5 minutes)', 15],
    ['rate(1 hour)', 180],
    ['rate(12 hours)', 1440],
    ['cron(0/10 * * * ? *)', 1440],
  ])(
    'waits three periods of %s (or at most a day) before "no successful run" alarms: %i minutes',
    (schedule, minutes) => {
      // Act
      const settings = parseEnvironment('dev', { ...minimal, schedule }, options);

      // Assess
      expect(settings.noSuccessfulRunMinutes).toBe(minutes);
    },
  );

  it('rejects an environment name that cannot be part of a stack or document name', () => {
    // Act
    const message = problemsOf(minimal, 'prod_eu');

    // Assess
    expect(message).toMatch(/^environments\.prod_eu: an environment name is a letter followed by/);
  });
});

describe('selectEnvironments', () => {
  const environments = { dev: minimal, prod: { ...minimal, region: 'eu-west-1' } };

  it('selects every environment when no env is given', () => {
    // Act
    const selected = selectEnvironments({ environments, env: undefined }, options);

    // Assess
    expect(selected.map((settings) => settings.name)).toStrictEqual(['dev', 'prod']);
  });

  it('selects only the environment given with -c env=NAME', () => {
    // Act
    const selected = selectEnvironments({ environments, env: 'prod' }, options);

    // Assess
    expect(selected.map((settings) => [settings.name, settings.region])).toStrictEqual([
      ['prod', 'eu-west-1'],
    ]);
  });

  it('rejects an env that is not defined, listing the defined ones', () => {
    // Act
    const select = () => selectEnvironments({ environments, env: 'staging' }, options);

    // Assess
    expect(select).toThrow(
      new SettingsError(
        '-c env=staging: no such environment in cdk.json "environments" (defined: dev, prod).',
      ),
    );
  });

  it('rejects a context without environments', () => {
    // Act
    const select = () => selectEnvironments({ environments: undefined, env: undefined }, options);

    // Assess
    expect(select).toThrow(/^environments: cdk\.json "context" must hold "environments"/);
  });

  it('accepts the example environments in cdk.json', () => {
    // Prepare
    const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'));

    // Act
    const selected = selectEnvironments(
      { environments: cdkJson.context.environments, env: undefined },
      options,
    );

    // Assess
    expect(selected.map((settings) => settings.name)).toStrictEqual(['dev', 'prod']);
  });
});

describe('functionEnvironment', () => {
  it('fails the synth when the function would reject a value, naming the variable', () => {
    // Prepare: settings that bypassed parseEnvironment
    const settings = {
      ...parseEnvironment('dev', minimal, options),
      heartbeatSeconds: 0,
    } as EnvironmentSettings;

    // Act
    const build = () => functionEnvironment(settings, documentNames('dev'));

    // Assess
    expect(build).toThrow(
      'environments.dev: the function would reject its settings: KASM_HEARTBEAT_SECONDS must be a whole number from 1 to 3600, got "0".',
    );
  });
});
