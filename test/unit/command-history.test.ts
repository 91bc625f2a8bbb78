/**
 * The command history (lambda/aws/command-history.ts) against a scripted SSM client: what ListCommands
 * is asked, how far its pages are read, and what a command found is. The e2e overlap tests prove the
 * same against the proving ground's wire-level SSM.
 */
import { describe, expect, it } from 'vitest';
import { AwsCaller, DeadlineError } from '../../lambda/aws/aws-call.ts';
import { type CommandSent, findCommand, type HistoryQuery } from '../../lambda/aws/command-history.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import { FakeSsm, HANG } from './fake-ssm.ts';

/** 2026-12-05T10:00:00.750Z: a moment with milliseconds, which InvokedAfter does not take. */
const SENT_AFTER = Date.parse('2026-12-05T10:00:00.750Z');
const QUERY: HistoryQuery = {
  documentNames: ['Probe-doc', 'Push-doc'],
  sentAfter: SENT_AFTER,
  executingOnly: false,
};

function caller(deadlineInMs = 10 * 60_000): AwsCaller {
  return new AwsCaller({
    pacer: new Pacer({ ratePerSecond: 1000, burst: 1000 }),
    deadlineAt: Date.now() + deadlineInMs,
    sleep: async () => {},
  });
}

const command = (comment: string, at: string) => ({ Comment: comment, RequestedDateTime: new Date(at) });

describe('findCommand', () => {
  it('asks for each document in turn by name and time sent, in whole seconds, 50 a page, following pages', async () => {
    // Prepare: nothing wanted anywhere; Probe-doc has two pages, Push-doc one
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject(
      'ListCommands',
      { Commands: [command('a', '2026-12-05T10:01:00Z')], NextToken: 'probe-2' },
      { Commands: [command('b', '2026-12-05T10:02:00Z')] },
      { Commands: [command('c', '2026-12-05T10:03:00Z')] },
    );
    const seen: CommandSent[] = [];

    // Act
    const found = await findCommand(ssm.client, caller(), QUERY, (c) => {
      seen.push(c);
      return false;
    });

    // Assess
    expect(found).toBeUndefined();
    expect(seen.map((c) => c.comment)).toStrictEqual(['a', 'b', 'c']);
    const filters = (documentName: string) => [
      { key: 'DocumentName', value: documentName },
      { key: 'InvokedAfter', value: '2026-12-05T10:00:00Z' },
    ];
    expect(ssm.calls.map((c) => [c.operation, c.input])).toStrictEqual([
      ['ListCommands', { Filters: filters('Probe-doc'), MaxResults: 50, NextToken: undefined }],
      ['ListCommands', { Filters: filters('Probe-doc'), MaxResults: 50, NextToken: 'probe-2' }],
      ['ListCommands', { Filters: filters('Push-doc'), MaxResults: 50, NextToken: undefined }],
    ]);
  });

  it('asks only for commands still executing when the query says so', async () => {
    // Prepare
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('ListCommands', {}, {});
    const seen: CommandSent[] = [];

    // Act
    await findCommand(ssm.client, caller(), { ...QUERY, executingOnly: true }, (c) => {
      seen.push(c);
      return false;
    });

    // Assess: pages without commands offer none
    expect(seen).toStrictEqual([]);
    expect(ssm.calls.map((c) => c.input.Filters)).toStrictEqual(
      ['Probe-doc', 'Push-doc'].map((documentName) => [
        { key: 'DocumentName', value: documentName },
        { key: 'InvokedAfter', value: '2026-12-05T10:00:00Z' },
        { key: 'ExecutionStage', value: 'Executing' },
      ]),
    );
  });

  it('stops at the first command wanted, reading no further page or document, and gives its comment and time', async () => {
    // Prepare
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('ListCommands', {
      Commands: [
        command('other tool', '2026-12-05T10:01:00Z'),
        command('kasm-token-reconciler run-1 fleet deliver', '2026-12-05T10:02:00.500Z'),
        command('kasm-token-reconciler run-0 fleet observe', '2026-12-05T10:03:00Z'),
      ],
      NextToken: 'probe-2',
    });

    // Act
    const found = await findCommand(ssm.client, caller(), QUERY, (c) => c.comment.startsWith('kasm'));

    // Assess
    expect(found).toStrictEqual({
      comment: 'kasm-token-reconciler run-1 fleet deliver',
      requestedAt: Date.parse('2026-12-05T10:02:00.500Z'),
    });
    expect(ssm.count('ListCommands')).toBe(1);
  });

  it('reads a command SSM gives without a comment or a time as an empty comment sent at 0', async () => {
    // Prepare
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('ListCommands', { Commands: [{}] }, {});
    const seen: CommandSent[] = [];

    // Act
    await findCommand(ssm.client, caller(), { ...QUERY, documentNames: ['Probe-doc'] }, (c) => {
      seen.push(c);
      return false;
    });

    // Assess
    expect(seen).toStrictEqual([{ comment: '', requestedAt: 0 }]);
  });

  it('gives up on a ListCommands call that hangs once the run reaches its deadline, naming the call', async () => {
    // Prepare: the deadline falls 100 ms after the call is made, and the call never answers
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('ListCommands', HANG);

    // Act
    const found = findCommand(ssm.client, caller(100), QUERY, () => true);

    // Assess
    await expect(found).rejects.toThrow(
      new DeadlineError('ListCommands was not completed: the run reached its deadline'),
    );
  }, 3000);
});
