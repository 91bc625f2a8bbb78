import { describe, expect, it } from 'vitest';
import {
  accepted,
  boolean,
  describe as describeValue,
  fromText,
  integer,
  judge,
  oneOf,
  text,
} from '../../shared/setting-rules.ts';
import { SETTINGS } from '../../shared/settings.ts';

const SCHEDULE_HINT =
  'an EventBridge Scheduler expression such as "rate(5 minutes)" or "cron(0/5 * * * ? *)"';
const SECRET_NAME_HINT = 'a secret name of letters, digits and / _ + = . @ - (or the full secret ARN)';
const SECRET_ARN_HINT =
  'a full secret ARN ending in the 6-character suffix (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kasm/registration-AbCdEf';

describe('accepted', () => {
  it.each([
    ['a whole number', integer(1, 3600), 'a whole number from 1 to 3600'],
    ['a boolean', boolean, 'true or false'],
    [
      'one of a list',
      oneOf([1, 3, 5], 'the values CloudWatch Logs accepts'),
      'one of 1, 3, 5 (the values CloudWatch Logs accepts)',
    ],
    ['a text', text(/^\d{12}$/, 'a 12-digit AWS account id'), 'a 12-digit AWS account id'],
  ])('says what %s accepts as the messages and README say it', (_, rule, says) => {
    expect(accepted(rule)).toBe(says);
  });

  it.each([
    ['a secret name', 'kasm/registration-token', SECRET_NAME_HINT],
    ['a value starting with "arn:"', 'arn:aws:secretsmanager:eu-west-1', SECRET_ARN_HINT],
    ['a value with "arn:" only inside it', 'kasm/arn:', SECRET_NAME_HINT],
    ['a value that is not text', 42, SECRET_NAME_HINT],
    ['no value at all', undefined, SECRET_NAME_HINT],
  ])('holds %s for the registration secret to the matching hint', (_, value, says) => {
    expect(accepted(SETTINGS.secretId.rule, value)).toBe(says);
  });

  it('gives a rule without an ARN form its own hint even for a value starting with "arn:"', () => {
    expect(accepted(SETTINGS.secretJsonField.rule, 'arn:aws:kms')).toBe(
      'the name of the JSON field holding the token',
    );
  });
});

describe('judge', () => {
  it.each([
    ['the lowest value', 1, undefined],
    ['the highest value', 3600, undefined],
    ['a value below the range', 0, { expected: 'a whole number from 1 to 3600' }],
    ['a value above the range', 3601, { expected: 'a whole number from 1 to 3600' }],
    ['a fraction inside the range', 2.5, { expected: 'a whole number from 1 to 3600' }],
    ['a number written as a string', '30', { expected: 'a whole number from 1 to 3600' }],
    ['a boolean', true, { expected: 'a whole number from 1 to 3600' }],
  ])('judges %s against a whole-number range', (_, value, verdict) => {
    expect(judge(integer(1, 3600), value)).toEqual(verdict);
  });

  it.each([
    [true, undefined],
    [false, undefined],
    ['true', { expected: 'true or false' }],
    [1, { expected: 'true or false' }],
  ])('judges %j against a boolean setting', (value, verdict) => {
    expect(judge(boolean, value)).toEqual(verdict);
  });

  it.each([
    [90, undefined],
    [91, { expected: 'one of 30, 90 (retention days)' }],
    ['90', { expected: 'one of 30, 90 (retention days)' }],
  ])('judges %j against a list of allowed numbers', (value, verdict) => {
    expect(judge(oneOf([30, 90], 'retention days'), value)).toEqual(verdict);
  });

  it.each([
    ['a number where an account id is expected', SETTINGS.account.rule, 111122223333],
    ['an empty value', SETTINGS.account.rule, ''],
    ['a CA file path of spaces only', SETTINGS.caFile.rule, '   '],
    ['a fleet tag value of spaces only', SETTINGS.fleetTagValue.rule, '   '],
  ])('rejects %s as not of the accepted form', (_, rule, value) => {
    expect(judge(rule, value)).toEqual({ expected: accepted(rule, value) });
  });

  it('accepts a full secret ARN by the ARN pattern, which a secret name could not match', () => {
    expect(judge(SETTINGS.secretId.rule, SECRET_ARN)).toBeUndefined();
    expect(judge(SETTINGS.secretId.rule, 'kasm/registration-token')).toBeUndefined();
  });

  it('holds a value starting with "arn:" to the ARN pattern', () => {
    expect(
      judge(SETTINGS.secretId.rule, 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:kasm'),
    ).toEqual({
      expected: SECRET_ARN_HINT,
    });
  });

  it('reports the first further check that fails as the problem', () => {
    // Arrange
    const rule = text(/^\w+$/, 'a word', {
      checks: [
        (value) => (value === 'reserved' ? 'that word is reserved' : undefined),
        () => 'never reached',
      ],
    });

    // Act
    const verdict = judge(rule, 'reserved');

    // Assess
    expect(verdict).toEqual({ problem: 'that word is reserved' });
  });
});

describe('the schedule setting', () => {
  it.each(['rate(5 minutes)', 'rate(1 minute)', 'rate(1 hour)', 'rate(2 days)', 'cron(0/5 * * * ? *)'])(
    'accepts %s',
    (schedule) => {
      expect(judge(SETTINGS.schedule.rule, schedule)).toBeUndefined();
    },
  );

  it.each([
    ['rate(0 minutes)', 'the rate must be at least 1, got "rate(0 minutes)"'],
    ['rate(1 minutes)', 'a rate of 1 takes a singular unit, any other a plural one, got "rate(1 minutes)"'],
    ['rate(5 minute)', 'a rate of 1 takes a singular unit, any other a plural one, got "rate(5 minute)"'],
    ['rate(2 weeks)', `expected ${SCHEDULE_HINT}, got "rate(2 weeks)"`],
    ['cron(0 12 * * ?)', `expected ${SCHEDULE_HINT}, got "cron(0 12 * * ?)"`],
  ])('rejects %s saying why', (schedule, problem) => {
    expect(judge(SETTINGS.schedule.rule, schedule)).toEqual({ problem });
  });

  it('rejects an expression that is neither rate(...) nor cron(...) with the expected form', () => {
    expect(judge(SETTINGS.schedule.rule, 'every 5 minutes')).toEqual({ expected: SCHEDULE_HINT });
  });
});

describe('the fleet tag settings', () => {
  it.each([
    ['a key with a space and a colon inside', SETTINGS.fleetTagKey.rule, 'kasm team:reconcile'],
    ['a key of 128 characters', SETTINGS.fleetTagKey.rule, 'k'.repeat(128)],
    ['a key with "aws:" not at its start', SETTINGS.fleetTagKey.rule, 'kasm:aws:'],
    ['a value starting with "aws:"', SETTINGS.fleetTagValue.rule, 'aws:fleet'],
    ['a value of 256 characters', SETTINGS.fleetTagValue.rule, 'v'.repeat(256)],
    // AWS counts Unicode characters; 𝐤 is one character but two UTF-16 units in JavaScript.
    ['a key of 128 letters outside the BMP', SETTINGS.fleetTagKey.rule, '𝐤'.repeat(128)],
  ])('accepts %s', (_, rule, value) => {
    expect(judge(rule, value)).toBeUndefined();
  });

  it.each([
    ['a key with a leading space', SETTINGS.fleetTagKey.rule, ' kasm', 'must not start or end with a space'],
    [
      'a value with a trailing space',
      SETTINGS.fleetTagValue.rule,
      'true ',
      'must not start or end with a space',
    ],
    [
      'a key of 129 characters',
      SETTINGS.fleetTagKey.rule,
      'k'.repeat(129),
      'a tag key has at most 128 characters',
    ],
    [
      'a key of 129 letters outside the BMP',
      SETTINGS.fleetTagKey.rule,
      '𝐤'.repeat(129),
      'a tag key has at most 128 characters',
    ],
    [
      'a value of 257 characters',
      SETTINGS.fleetTagValue.rule,
      'v'.repeat(257),
      'a tag value has at most 256 characters',
    ],
    [
      'a key in the aws: namespace',
      SETTINGS.fleetTagKey.rule,
      'aws:reconcile',
      'keys starting with "aws:" are reserved by AWS, got "aws:reconcile"',
    ],
    [
      'a key in the AWS: namespace in capitals',
      SETTINGS.fleetTagKey.rule,
      'AWS:Reconcile',
      'keys starting with "aws:" are reserved by AWS, got "AWS:Reconcile"',
    ],
  ])('rejects %s saying why', (_, rule, value, problem) => {
    expect(judge(rule, value)).toEqual({ problem });
  });
});

describe('fromText', () => {
  it.each([
    ['a whole number', integer(0, 600), '120', 120],
    ['a number that is not plain digits', integer(0, 600), '1e2', '1e2'],
    ['a number with a unit', integer(0, 600), '30s', '30s'],
    ['one of a list', oneOf([30, 90], 'retention days'), '90', 90],
    ['a boolean true', boolean, 'true', true],
    ['a boolean false', boolean, 'false', false],
    ['a boolean in another spelling', boolean, 'yes', 'yes'],
    ['text that looks like a number', text(/^.+$/, 'anything'), '120', '120'],
    ['text that looks like a boolean', text(/^.+$/, 'anything'), 'true', 'true'],
  ])("reads %s from the environment as the rule's type", (_, rule, raw, value) => {
    expect(fromText(rule, raw)).toBe(value);
  });
});

describe('describe', () => {
  it.each([
    [undefined, 'nothing'],
    [null, 'null'],
    [['kasm'], 'an array'],
    ['kasm', '"kasm"'],
    [{ key: 'kasm' }, 'an object'],
    [30, 'number 30'],
    [true, 'boolean true'],
  ])('shows %j in a message as %s', (value, shown) => {
    expect(describeValue(value)).toBe(shown);
  });
});
