import { describe, expect, it } from 'vitest';
import { InvalidEventError, parseEvent } from '../../shared/event-schema.ts';

const startEvent = (id: string, state = 'running') => ({
  version: '0',
  id: 'e1',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  detail: { 'instance-id': id, state },
});

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
    expect(parseEvent({})).toEqual({ trigger: 'direct', dryRun: false, waitForOnline: false });
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
  it('takes a scheduled event as a full reconcile', () => {
    expect(parseEvent({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} }).trigger).toBe(
      'schedule',
    );
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
    expect(parseEvent({ Records: records }).instanceIds).toEqual([
      'i-0a1b2c3d4e5f60718',
      'i-0a1b2c3d4e5f60719',
    ]);
  });
  it('rejects an unknown field by name and lists the accepted events', () => {
    const error = rejection({ dryrun: true });
    expect(error.field).toBe('dryrun');
    expect(error.message).toContain('unknown field');
    expect(error.message).toContain('{"dryRun": true}');
  });
  it('rejects a dryRun that is not a boolean', () => {
    expect(rejection({ dryRun: 'yes' }).message).toContain(
      'dryRun: expected true or false, got the string "yes"',
    );
  });
  it('rejects a malformed instance id naming its position', () => {
    const error = rejection({ instanceIds: ['i-0123456789abcdef0', 'i-XYZ'] });
    expect(error.field).toBe('instanceIds[1]');
  });
  it('rejects instanceIds that is not a non-empty array', () => {
    expect(rejection({ instanceIds: 'i-0123456789abcdef0' }).field).toBe('instanceIds');
    expect(rejection({ instanceIds: [] }).message).toContain('at least one');
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
    expect(request.rejectedRecords).toEqual([
      { messageId: 'm-1', problem: 'Records[1].body: is not JSON' },
      {
        messageId: 'm-2',
        problem: 'Records[2].body.detail.state: only "running" is handled, got the string "stopped"',
      },
    ]);
  });
  it('rejects a batch holding a record that SQS could not have sent (no messageId)', () => {
    expect(rejection({ Records: [{ eventSource: 'aws:sqs', body: '{}' }] }).field).toBe('Records[0]');
  });
  it('rejects a payload that is not an object', () => {
    expect(rejection([1, 2]).message).toContain('expected a JSON object, got an array');
  });
});
