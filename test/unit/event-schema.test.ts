import { describe, expect, it } from 'vitest';
import { InvalidEventError, parseEvent } from '../../shared/event-schema.ts';

const startEvent = (id: string, state = 'running') => ({
  version: '0',
  id: 'e1',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  detail: { 'instance-id': id, state },
});

const sqsRecord = (messageId: string, body: string) => ({ messageId, eventSource: 'aws:sqs', body });

const FULL_RECONCILE = { trigger: 'direct', dryRun: false, waitForOnline: false };
const ID_PROBLEM =
  'expected an EC2 id (i- and 8 or 17 hex digits) or a managed node id (mi- and 17 hex digits)';
const NOT_SQS = 'expected an SQS record with a messageId and a string body';
const NOT_A_NOTIFICATION = 'expected an "EC2 Instance State-change Notification"';

function rejection(event: unknown): InvalidEventError {
  try {
    parseEvent(event);
  } catch (error) {
    if (error instanceof InvalidEventError) return error;
    throw error;
  }
  throw new Error('the event was accepted');
}

describe('parseEvent', () => {
  it('takes an empty object as a full reconcile', () => {
    expect(parseEvent({})).toEqual(FULL_RECONCILE);
  });
  it.each([undefined, null])('takes no payload at all (%s) as a full reconcile', (event) => {
    expect(parseEvent(event)).toEqual(FULL_RECONCILE);
  });
  it('takes a dry run scoped to instance ids and drops duplicates', () => {
    expect(
      parseEvent({
        dryRun: true,
        instanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef0', 'mi-0123456789abcdef0'],
      }),
    ).toEqual({
      trigger: 'direct',
      dryRun: true,
      instanceIds: ['i-0123456789abcdef0', 'mi-0123456789abcdef0'],
      waitForOnline: false,
    });
  });
  it('takes a scheduled event as a full reconcile that changes things and waits for no agent', () => {
    expect(parseEvent({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} })).toEqual({
      trigger: 'schedule',
      dryRun: false,
      waitForOnline: false,
    });
  });
  it('takes a running state-change notification for that instance', () => {
    expect(parseEvent(startEvent('i-0a1b2c3d4e5f60718'))).toEqual({
      trigger: 'instance-start',
      dryRun: false,
      instanceIds: ['i-0a1b2c3d4e5f60718'],
      waitForOnline: true,
    });
  });
  it('takes an SQS batch of notifications as one run over all their instances', () => {
    const records = ['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719', 'i-0a1b2c3d4e5f60718'].map((id, i) => ({
      messageId: `m-${i}`,
      eventSource: 'aws:sqs',
      body: JSON.stringify(startEvent(id)),
    }));
    expect(parseEvent({ Records: records })).toEqual({
      trigger: 'instance-start',
      dryRun: false,
      instanceIds: ['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719'],
      waitForOnline: true,
      messageIds: ['m-0', 'm-1', 'm-2'],
      startRecords: [
        { messageId: 'm-0', instanceId: 'i-0a1b2c3d4e5f60718' },
        { messageId: 'm-1', instanceId: 'i-0a1b2c3d4e5f60719' },
        { messageId: 'm-2', instanceId: 'i-0a1b2c3d4e5f60718' },
      ],
    });
  });
  it('rejects an unknown field by name and lists the accepted events', () => {
    const error = rejection({ dryrun: true });
    expect(error.field).toBe('dryrun');
    expect(error.message).toContain('unknown field (accepted fields: dryRun, instanceIds)');
    expect(error.message).toContain('{"dryRun": true}');
  });
  it('throws an error named InvalidEventError, the errorType Lambda reports to the caller', () => {
    expect(rejection({ dryrun: true }).name).toBe('InvalidEventError');
  });
  it.each<[string, unknown, string]>([
    ['a string', 'yes', 'the string "yes"'],
    ['a number', 1, 'a number'],
    ['null', null, 'null'],
    ['an object', {}, 'an object'],
  ])('rejects a dryRun that is %s, saying what it got', (_, dryRun, got) => {
    expect(rejection({ dryRun }).message).toContain(`dryRun: expected true or false, got ${got}.`);
  });
  it.each<[string, unknown, string]>([
    ['malformed', 'i-XYZ', 'the string "i-XYZ"'],
    ['a number', 123, 'a number'],
    ['a nested array, even around a valid id', ['i-0123456789abcdef0'], 'an array'],
  ])('rejects a named instance id that is %s, naming its position', (_, id, got) => {
    // Act
    const error = rejection({ instanceIds: ['i-0123456789abcdef0', id] });

    // Assess
    expect(error.field).toBe('instanceIds[1]');
    expect(error.problem).toBe(`${ID_PROBLEM}, got ${got}`);
  });
  it('rejects instanceIds that is not a non-empty array', () => {
    expect(rejection({ instanceIds: { 'i-0123456789abcdef0': true } }).field).toBe('instanceIds');
    expect(rejection({ instanceIds: [] }).message).toContain('at least one');
  });
  it('rejects instance ids typed as one string, quoting up to 40 characters of it', () => {
    // Prepare: two ids with their separator are exactly 40 characters, three are more
    const two = 'i-0123456789abcdef0, i-0123456789abcdef1';
    const three = `${two}, i-0123456789abcdef2`;

    // Act
    const whole = rejection({ instanceIds: two });
    const cut = rejection({ instanceIds: three });

    // Assess
    expect(whole.problem).toBe(`expected an array of instance ids, got the string "${two}"`);
    expect(cut.problem).toBe(`expected an array of instance ids, got the string "${two}…"`);
  });
  it('accepts 1,000 named instance ids and rejects 1,001, naming the limit', () => {
    // Prepare: distinct valid ids
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);

    // Act
    const accepted = parseEvent({ instanceIds: ids(1000) });
    const error = rejection({ instanceIds: ids(1001) });

    // Assess
    expect(accepted.instanceIds).toHaveLength(1000);
    expect(error.field).toBe('instanceIds');
    expect(error.message).toContain('at most 1000 ids per run, got 1001');
  });
  it('rejects a state-change notification for a state other than running', () => {
    expect(rejection(startEvent('i-0a1b2c3d4e5f60718', 'stopped')).field).toBe('(event).detail.state');
  });
  it.each<[string, Record<string, unknown>, string, string]>([
    ['a null detail', { detail: null }, '(event).detail', 'expected an object, got null'],
    ['no detail', { detail: undefined }, '(event).detail', 'expected an object, got nothing'],
    [
      'a detail that is not an object',
      { detail: 'running' },
      '(event).detail',
      'expected an object, got the string "running"',
    ],
    [
      'a malformed instance id',
      { detail: { 'instance-id': 'i-XYZ', state: 'running' } },
      '(event).detail.instance-id',
      'expected an EC2 instance id, got the string "i-XYZ"',
    ],
    [
      'an instance id that is not a string',
      { detail: { 'instance-id': ['i-0a1b2c3d4e5f60718'], state: 'running' } },
      '(event).detail.instance-id',
      'expected an EC2 instance id, got an array',
    ],
  ])('rejects a state-change notification with %s', (_, change, field, problem) => {
    // Act
    const error = rejection({ ...startEvent('i-0a1b2c3d4e5f60718'), ...change });

    // Assess
    expect(error.field).toBe(field);
    expect(error.problem).toBe(problem);
  });
  it('rejects an EventBridge event of another detail-type, naming it', () => {
    // Act
    const error = rejection({ 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.ec2', detail: {} });

    // Assess
    expect(error.field).toBe('detail-type');
    expect(error.problem).toBe(
      'the string "AWS API Call via CloudTrail" is not an event this function handles',
    );
  });
  it('sets aside an SQS record whose body is not a running-state notification and keeps the others', () => {
    const good = {
      messageId: 'm-0',
      eventSource: 'aws:sqs',
      body: JSON.stringify(startEvent('i-0a1b2c3d4e5f60718')),
    };
    const notJson = { messageId: 'm-1', eventSource: 'aws:sqs', body: '{' };
    const stopped = {
      messageId: 'm-2',
      eventSource: 'aws:sqs',
      body: JSON.stringify(startEvent('i-0a1b2c3d4e5f60719', 'stopped')),
    };
    const request = parseEvent({ Records: [good, notJson, stopped] });
    expect(request.instanceIds).toEqual(['i-0a1b2c3d4e5f60718']);
    expect(request.messageIds).toEqual(['m-0', 'm-1', 'm-2']);
    expect(request.startRecords).toEqual([{ messageId: 'm-0', instanceId: 'i-0a1b2c3d4e5f60718' }]);
    expect(request.rejectedRecords).toEqual([
      { messageId: 'm-1', problem: 'Records[1].body: is not JSON' },
      {
        messageId: 'm-2',
        problem: 'Records[2].body.detail.state: only "running" is handled, got the string "stopped"',
      },
    ]);
  });
  it.each<[string, string, string]>([
    ['null', 'null', `Records[0].body: ${NOT_A_NOTIFICATION}`],
    [
      'a scheduled event',
      JSON.stringify({ 'detail-type': 'Scheduled Event', detail: {} }),
      `Records[0].body: ${NOT_A_NOTIFICATION}`,
    ],
    [
      'another detail-type carrying a running instance',
      JSON.stringify({ ...startEvent('i-0a1b2c3d4e5f60718'), 'detail-type': 'AWS API Call via CloudTrail' }),
      `Records[0].body: ${NOT_A_NOTIFICATION}`,
    ],
    [
      'a notification with a null detail',
      JSON.stringify({ ...startEvent('i-0a1b2c3d4e5f60718'), detail: null }),
      'Records[0].body.detail: expected an object, got null',
    ],
    [
      'a notification with a malformed instance id',
      JSON.stringify(startEvent('i-XYZ')),
      'Records[0].body.detail.instance-id: expected an EC2 instance id, got the string "i-XYZ"',
    ],
  ])('sets aside an SQS record whose body is %s, saying why', (_, body, problem) => {
    expect(parseEvent({ Records: [sqsRecord('m-0', body)] })).toEqual({
      trigger: 'instance-start',
      dryRun: false,
      instanceIds: [],
      waitForOnline: true,
      messageIds: ['m-0'],
      startRecords: [],
      rejectedRecords: [{ messageId: 'm-0', problem }],
    });
  });
  it.each<[string, unknown]>([
    ['null', null],
    ['from another source', { ...sqsRecord('m-1', '{}'), eventSource: 'aws:kinesis' }],
    [
      'whose body is an object, not a string',
      { ...sqsRecord('m-1', '{}'), body: startEvent('i-0a1b2c3d4e5f60718') },
    ],
    ['without a messageId', { eventSource: 'aws:sqs', body: '{}' }],
    ['with an empty messageId', sqsRecord('', '{}')],
  ])('rejects a whole batch holding a record SQS could not have sent: %s', (_, record) => {
    // Act
    const error = rejection({
      Records: [sqsRecord('m-0', JSON.stringify(startEvent('i-0a1b2c3d4e5f60718'))), record],
    });

    // Assess
    expect(error.field).toBe('Records[1]');
    expect(error.problem).toBe(NOT_SQS);
  });
  it('rejects an SQS event with no records', () => {
    // Act
    const error = rejection({ Records: [] });

    // Assess
    expect(error.field).toBe('Records');
    expect(error.problem).toBe('expected at least one record');
  });
  it.each<[string, unknown, string]>([
    ['an array', [1, 2], 'an array'],
    ['a string', 'dryRun', 'the string "dryRun"'],
    ['a number', 42, 'a number'],
    ['a boolean', true, 'a boolean'],
  ])('rejects a payload that is %s, saying what it got', (_, event, got) => {
    // Act
    const error = rejection(event);

    // Assess
    expect(error.field).toBe('(event)');
    expect(error.problem).toBe(`expected a JSON object, got ${got}`);
  });
});
