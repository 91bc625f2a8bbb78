/**
 * The command runner and its poller when SSM answers badly: failed reads and lists, results
 * that stay missing, sends that fail, cancels that fail, the deadline reached mid-poll, and
 * every terminal status an invocation can end in. All on a fake clock that moves only when
 * the poller sleeps, so the give-up and pick-up times are exact, however loaded the machine.
 */
import { SendCommandCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { AwsCaller } from '../../lambda/aws/aws-call.ts';
import { CommandRunner, type DocumentRun } from '../../lambda/aws/command-runner.ts';
import { CommandTracker } from '../../lambda/aws/command-tracker.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import { awsError, type Behaviour, FakeSsm, HANG } from './fake-ssm.ts';

/** A SHA-256 as the stack computes it for a document's content. */
const DOCUMENT_HASH = '3f'.repeat(32);
const ID = (n: number) => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;
const ids = (n: number) => Array.from({ length: n }, (_, i) => ID(i + 1));
const COMMAND = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const T0 = Date.parse('2026-11-30T07:00:00.000Z');
const PROBE_OUTPUT = (id: string) => `ktr-probe v1\nhost ${id}\nend`;

/**
 * A runner on a fake clock: `deadlineIn` bounds every AWS call, `pickupSeconds` is how long
 * an agent may take to start a command. Everything the poller warns about is kept.
 */
function setup(
  behaviourOf: (id: string) => Behaviour,
  options: { deadlineIn?: number; pickupSeconds?: number; withoutWarn?: boolean } = {},
) {
  let now = T0;
  const pauses: number[] = [];
  const clock = {
    now: () => now,
    sleep: async (ms: number) => {
      pauses.push(ms);
      now += ms;
    },
  };
  const throttled: string[] = [];
  const ssm = new FakeSsm(behaviourOf, clock.now);
  const caller = new AwsCaller({
    pacer: new Pacer({ ratePerSecond: 1000, burst: 1000, ...clock }),
    deadlineAt: T0 + (options.deadlineIn ?? 10 * 60_000),
    ...clock,
    random: () => 0,
    onThrottle: (operation) => throttled.push(operation),
  });
  const warnings: { message: string; extra?: object }[] = [];
  const tracker = new CommandTracker({
    ssm: ssm.client,
    caller,
    pollIntervalMs: 1000,
    maxPollIntervalMs: 5000,
    ...clock,
    ...(options.withoutWarn
      ? {}
      : {
          warn: (message: string, extra?: object) => warnings.push({ message, ...(extra ? { extra } : {}) }),
        }),
  });
  const runner = new CommandRunner({
    ssm: ssm.client,
    caller,
    tracker,
    pickupSeconds: options.pickupSeconds ?? 30,
    now: clock.now,
  });
  return { ssm, tracker, runner, warnings, pauses, throttled, elapsed: () => now - T0 };
}

/** A probe run: picked up within 30 s, 10 s expected, 20 s to execute, given up after 5 minutes. */
const documentRun = (instanceIds: string[], overrides: Partial<DocumentRun> = {}): DocumentRun => ({
  documentName: 'Probe-doc',
  documentVersion: '1',
  documentHash: DOCUMENT_HASH,
  instanceIds,
  parametersFor: () => ({}),
  comment: { runId: 'run-1', scope: 'fleet', step: 'observe' },
  expectedSeconds: 10,
  executionSeconds: 20,
  giveUpAt: T0 + 5 * 60_000,
  giveUpReason: 'the run gave up',
  ...overrides,
});

const succeed: Behaviour = { kind: 'succeed' };
/** Host 1's invocation of command 1 as ListCommandInvocations shows it once the probe succeeded. */
const host1Succeeded = {
  CommandId: COMMAND(1),
  InstanceId: ID(1),
  Status: 'Success',
  StatusDetails: 'Success',
  CommandPlugins: [{ Name: 'linux', Output: PROBE_OUTPUT(ID(1)) }],
};

describe('CommandRunner: SendCommand answers', () => {
  it('fails every host of a send SSM refused for another reason than the ids, naming the error', async () => {
    // Prepare
    const { ssm, runner } = setup(() => succeed);
    ssm.interject(
      'SendCommand',
      awsError('AccessDeniedException', 'not authorized to perform ssm:SendCommand'),
    );

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: one failed send, and nothing left to follow
    const detail = 'SendCommand failed: AccessDeniedException: not authorized to perform ssm:SendCommand';
    expect([...results.entries()]).toStrictEqual([
      [ID(1), { kind: 'failed', detail }],
      [ID(2), { kind: 'failed', detail }],
    ]);
    expect(ssm.count('SendCommand')).toBe(1);
    expect(ssm.count('ListCommands')).toBe(0);
  });

  it('says in the Comment which run sent the command, over what and for which step, cut to the 100 characters SendCommand accepts', async () => {
    // Prepare
    const { ssm, runner } = setup(() => succeed);
    const long = 'r'.repeat(120);

    // Act
    await runner.run(documentRun(ids(1), { comment: { runId: 'run-9', scope: 'hosts', step: 'deliver' } }));
    await runner.run(documentRun(ids(1), { comment: { runId: long, scope: 'fleet', step: 'observe' } }));

    // Assess
    const comments = ssm.calls.filter((c) => c.operation === 'SendCommand').map((c) => c.input.Comment);
    expect(comments).toStrictEqual([
      'kasm-token-reconciler run-9 hosts deliver',
      `kasm-token-reconciler ${long} fleet observe`.slice(0, 100),
    ]);
  });

  it('fails every host of a send answered without a command', async () => {
    // Prepare
    const { ssm, runner } = setup(() => succeed);
    ssm.interject('SendCommand', {});

    // Act
    const results = await runner.run(documentRun(ids(1)));

    // Assess
    expect([...results.values()]).toStrictEqual([
      { kind: 'failed', detail: 'SendCommand returned no command id' },
    ]);
  });

  it('fails every host of a send answered without a command id', async () => {
    // Prepare
    const { ssm, runner } = setup(() => succeed);
    ssm.interject('SendCommand', { Command: {} });

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    expect([...results.values()]).toStrictEqual([
      { kind: 'failed', detail: 'SendCommand returned no command id' },
      { kind: 'failed', detail: 'SendCommand returned no command id' },
    ]);
  });
});

describe('CommandTracker: polling through failures', () => {
  it('repeats a failed ListCommands next round and warns, instead of failing the hosts', async () => {
    // Prepare
    const { ssm, runner, warnings } = setup(() => succeed);
    ssm.interject('ListCommands', awsError('InternalServerError', 'Internal failure'), {});

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: the failed list, then a page without Commands, then the one that shows it done
    expect([...results.values()].map((r) => r.kind)).toStrictEqual(['output', 'output']);
    expect(ssm.count('ListCommands')).toBe(3);
    expect(warnings).toStrictEqual([
      {
        message: 'listing command statuses failed',
        extra: { error: 'InternalServerError: Internal failure' },
      },
    ]);
  });

  it('follows ListCommands pages while a command it waits for is not yet shown, and no further', async () => {
    // Prepare: three commands of 50, 50 and 20 hosts, listed one a page
    const { ssm, runner } = setup(() => succeed);
    ssm.listCommandsPageSize = 1;

    // Act
    const results = await runner.run(documentRun(ids(120)));

    // Assess: every host done, each command read once
    expect(results.size).toBe(120);
    expect([...results.values()].every((r) => r.kind === 'output' && r.succeeded)).toBe(true);
    expect(ssm.count('ListCommandInvocations')).toBe(3);
    // First round: only command 1 is open, and the first page shows it. Second round: commands
    // 2 and 3 are open; the first page shows only command 1, so pages 2 and 3 are read too.
    expect(
      ssm.calls.filter((c) => c.operation === 'ListCommands').map((c) => c.input.NextToken),
    ).toStrictEqual([undefined, undefined, '1', '2']);
  });

  it('stops paging once the commands it waits for are all seen, and ignores commands not its own', async () => {
    // Prepare: SSM lists an earlier run's command, then this one's, then two later ones, one a page
    const { ssm, tracker } = setup(() => succeed);
    ssm.listCommandsPageSize = 1;
    const other = (id: string) => ({ id, documentName: 'Probe-doc', sentAt: T0, invocations: [] });
    ssm.commands.push(other('earlier'));
    const sent = await ssm.client.send(
      new SendCommandCommand({ DocumentName: 'Probe-doc', InstanceIds: [ID(1)] }),
    );
    ssm.commands.push(other('later-1'), other('later-2'));

    // Act
    const results = await tracker.track({
      commandId: sent.Command?.CommandId ?? '',
      documentName: 'Probe-doc',
      instanceIds: [ID(1)],
      sentAt: T0,
      pickupBy: T0 + 40_000,
      giveUpAt: T0 + 60_000,
      giveUpReason: 'the run gave up',
    });

    // Assess: its command is on page 2, so pages 3 and 4 are never asked for
    expect(results.get(ID(1))).toMatchObject({ kind: 'output', succeeded: true });
    expect(
      ssm.calls.filter((c) => c.operation === 'ListCommands').map((c) => c.input.NextToken),
    ).toStrictEqual([undefined, '1']);
  });

  it('waits for a command listed without its counts, as one not finished', async () => {
    // Prepare: the first list shows the command with neither count, the second with no CompletedCount
    const { ssm, runner } = setup(() => succeed);
    ssm.interject(
      'ListCommands',
      { Commands: [{ CommandId: COMMAND(1) }] },
      {
        Commands: [{ CommandId: COMMAND(1), TargetCount: 1 }],
      },
    );

    // Act
    const results = await runner.run(documentRun(ids(1)));

    // Assess: read only once the third list counted it complete
    expect(results.get(ID(1))).toMatchObject({ kind: 'output' });
    expect(ssm.count('ListCommands')).toBe(3);
    expect(ssm.count('ListCommandInvocations')).toBe(1);
  });

  it('reads a finished command again next round when reading its results failed, and warns', async () => {
    // Prepare
    const { ssm, runner, warnings } = setup(() => succeed);
    ssm.interject('ListCommandInvocations', awsError('InternalServerError', 'Internal failure'));

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    expect([...results.values()].map((r) => r.kind)).toStrictEqual(['output', 'output']);
    expect(ssm.count('ListCommandInvocations')).toBe(2);
    expect(warnings).toStrictEqual([
      {
        message: 'reading command results failed',
        extra: { commandId: COMMAND(1), error: 'InternalServerError: Internal failure' },
      },
    ]);
  });

  it('fails the hosts of a finished command at once when reading its results is refused, naming why', async () => {
    // Prepare: the role lacks ssm:ListCommandInvocations; the SDK marks such an error a client fault
    const { ssm, runner, elapsed } = setup(() => succeed);
    const denied = 'User is not authorized to perform: ssm:ListCommandInvocations';
    ssm.interject(
      'ListCommandInvocations',
      Object.assign(awsError('AccessDeniedException', denied), { $fault: 'client' }),
    );

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: one read, no waiting for the give-up time
    const detail = `reading the command results failed: AccessDeniedException: ${denied}`;
    expect(Object.fromEntries(results)).toStrictEqual({
      [ID(1)]: { kind: 'failed', detail },
      [ID(2)]: { kind: 'failed', detail },
    });
    expect(ssm.count('ListCommandInvocations')).toBe(1);
    expect(elapsed()).toBeLessThan(30_000);
  });

  it('retries a throttled read of the results rather than taking it for a refusal', async () => {
    // Prepare: the SDK marks a throttle a client fault too
    const { ssm, runner } = setup(() => succeed);
    ssm.interject(
      'ListCommandInvocations',
      Object.assign(awsError('ThrottlingException', 'Rate exceeded'), { $fault: 'client' }),
    );

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    expect([...results.values()].map((r) => r.kind)).toStrictEqual(['output', 'output']);
    expect(ssm.count('ListCommandInvocations')).toBe(2);
  });

  it('reports a host SSM counts finished but never shows, after five reads, as given no result', async () => {
    // Prepare: of two finished hosts, SSM shows nothing, then an invocation without an instance
    // id, then only host 1, for good
    const { ssm, runner } = setup(() => succeed);
    const onlyHost1 = {
      CommandInvocations: [host1Succeeded],
    };
    ssm.interject(
      'ListCommandInvocations',
      {},
      { CommandInvocations: [{ CommandId: COMMAND(1), Status: 'Success' }] },
      onlyHost1,
      onlyHost1,
      onlyHost1,
    );

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: host 1's result is kept; host 2's is given up after the fifth read
    expect(Object.fromEntries(results)).toStrictEqual({
      [ID(1)]: { kind: 'output', succeeded: true, output: PROBE_OUTPUT(ID(1)) },
      [ID(2)]: { kind: 'failed', detail: 'SSM returned no result for this host' },
    });
    expect(ssm.count('ListCommandInvocations')).toBe(5);
  });

  it('keeps the first 2,500 characters when reading the whole output fails, or answers none', async () => {
    // Prepare: two hosts whose outputs were cut; reading one whole fails, the other answers empty
    const long = (id: string) => `ktr-probe v1\nhost ${id}\n${'comp x\n'.repeat(600)}end`;
    const { ssm, runner } = setup((id) => ({ kind: 'succeed', output: long(id) }));
    ssm.interject('GetCommandInvocation', awsError('InvocationDoesNotExist'), {});

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    for (const id of ids(2)) {
      expect(results.get(id)).toStrictEqual({
        kind: 'output',
        succeeded: true,
        output: long(id).slice(0, 2500),
      });
    }
    expect(ssm.count('GetCommandInvocation')).toBe(2);
  });
});

describe('CommandTracker: picking up and giving up', () => {
  it('settles an agent that never started at the pick-up time, and its neighbour once that finishes', async () => {
    // Prepare: host 1 never starts; host 2 runs for 45 s, past the pick-up check at 40 s
    const { ssm, runner, elapsed } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 45_000 },
    );

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    expect(results.get(ID(1))).toStrictEqual({
      kind: 'unreachable',
      detail: 'the SSM Agent did not start the command within 40 s (status Pending)',
    });
    expect(results.get(ID(2))).toMatchObject({ kind: 'output', succeeded: true });
    expect(ssm.calls.filter((c) => c.operation === 'CancelCommand').map((c) => c.input)).toStrictEqual([
      { CommandId: COMMAND(1), InstanceIds: [ID(1)] },
    ]);
    expect(elapsed()).toBeGreaterThanOrEqual(45_000);
    expect(elapsed()).toBeLessThan(60_000);
  });

  it('never waits on an invocation it cancelled that stays Cancelling: its neighbour is settled as soon as it finishes', async () => {
    // Prepare: host 1 never starts and, once cancelled at the pick-up time (40 s), stays Cancelling
    // (not terminal, so ListCommands never counts it completed); host 2 finishes at 45 s. The
    // give-up time is 5 minutes away, so waiting for host 1 would show.
    const { ssm, runner, elapsed } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 45_000 },
    );
    ssm.cancellingMs = Number.POSITIVE_INFINITY;

    // Act
    const results = await runner.run(documentRun(ids(2), { executionSeconds: 600 }));

    // Assess: host 1 keeps the run's own reason, not whatever SSM shows later
    expect(results.get(ID(1))).toStrictEqual({
      kind: 'unreachable',
      detail: 'the SSM Agent did not start the command within 40 s (status Pending)',
    });
    expect(results.get(ID(2))).toMatchObject({ kind: 'output', succeeded: true });
    expect(ssm.commands[0]?.invocations.find((i) => i.instanceId === ID(1))?.status).toBe('Cancelling');
    expect(elapsed()).toBeGreaterThanOrEqual(45_000);
    expect(elapsed()).toBeLessThan(50_000);
  });

  it('settles at once the hosts it gives up on at the give-up time, though their invocations show Cancelling', async () => {
    // Prepare
    const { ssm, runner, elapsed } = setup(() => ({ kind: 'run-forever' }));
    ssm.cancellingMs = Number.POSITIVE_INFINITY;

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: given up at 60 s with the run's reason; nothing read after the cancel
    expect([...results.values()]).toStrictEqual([
      { kind: 'failed', detail: 'the run gave up' },
      { kind: 'failed', detail: 'the run gave up' },
    ]);
    expect(elapsed()).toBe(60_000);
    expect(ssm.calls.at(-1)?.operation).toBe('CancelCommand');
  });

  it('lists a document whole, running commands included, only while one of its commands has an invocation it cancelled still Cancelling', async () => {
    // Prepare: host 1 never starts and, once cancelled at the pick-up time (40 s), shows Cancelling
    // until 50 s; host 2 finishes at 70 s
    const { ssm, runner } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 70_000 },
    );
    ssm.cancellingMs = 10_000;

    // Act
    await runner.run(documentRun(ids(2), { executionSeconds: 600 }));

    // Assess: only finished commands until the cancel; all while it is Cancelling; only finished once
    // a read showed it Cancelled
    const lists = ssm.calls.flatMap((c, at) =>
      c.operation === 'ListCommands'
        ? [{ at, all: !(c.input.Filters as { key: string }[]).some((f) => f.key === 'ExecutionStage') }]
        : [],
    );
    const stages = lists.map((l) => (l.all ? 'all' : 'finished'));
    expect(stages.filter((stage, i) => stage !== stages[i - 1])).toStrictEqual([
      'finished',
      'all',
      'finished',
    ]);
    expect(lists.find((l) => l.all)?.at).toBeGreaterThan(
      ssm.calls.findIndex((c) => c.operation === 'CancelCommand'),
    );
  });

  it('lists a document whole while any one of its commands has a cancel pending, not only when all have', async () => {
    // Prepare: command 1: host 1 never starts and stays Cancelling once cancelled at 40 s, host 2
    // finishes at 45 s; command 2, of the same document: host 3 runs until 200 s
    const { ssm, runner, elapsed } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: id === ID(2) ? 45_000 : 200_000 },
    );
    ssm.cancellingMs = Number.POSITIVE_INFINITY;
    let firstDoneAt = 0;

    // Act
    await Promise.all([
      runner.run(documentRun(ids(2), { executionSeconds: 600 })).then(() => {
        firstDoneAt = elapsed();
      }),
      runner.run(documentRun([ID(3)], { executionSeconds: 600 })),
    ]);

    // Assess: command 1 is done once host 2 is, not held until host 3's command ends
    expect(firstDoneAt).toBeGreaterThanOrEqual(45_000);
    expect(firstDoneAt).toBeLessThan(50_000);
  });

  it('keeps all its patience for results SSM is slow to show after a cancelled invocation turned Cancelled mid-run', async () => {
    // Prepare: host 1 is cancelled at 40 s and shows Cancelled 3 s later, so one read finds host 2 still
    // running; once host 2 is done at 90 s, SSM shows no invocation for four reads
    const { ssm, runner } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 90_000 },
    );
    ssm.cancellingMs = 3000;
    ssm.interject('ListCommandInvocations', null, null, {}, {}, {}, {});

    // Act
    const results = await runner.run(documentRun(ids(2), { executionSeconds: 600 }));

    // Assess: the read that found host 2 running was no short read, so four short reads are not five
    expect(results.get(ID(2))).toMatchObject({ kind: 'output', succeeded: true });
    expect(ssm.count('ListCommandInvocations')).toBe(7);
  });

  it('reads a command again only once the cancels it still waits on end, one by one, and a cancel that never ends holds nothing', async () => {
    // Prepare: hosts 1 and 2 never start and are cancelled at 40 s; host 1 shows Cancelled at 43 s, host 2
    // stays Cancelling; host 3 finishes at 60 s
    const { ssm, runner, elapsed } = setup((id) =>
      id === ID(3) ? { kind: 'succeed', afterMs: 60_000 } : { kind: 'never-start' },
    );
    ssm.cancellingMs = (id) => (id === ID(1) ? 3000 : Number.POSITIVE_INFINITY);

    // Act
    const results = await runner.run(documentRun(ids(3), { executionSeconds: 600 }));

    // Assess: read at the pick-up time, when host 1's cancel ended (counted twice once), and when host 3
    // finished; not held until the give-up time by host 2's cancel
    expect(results.get(ID(3))).toMatchObject({ kind: 'output', succeeded: true });
    expect(ssm.count('ListCommandInvocations')).toBe(3);
    expect(elapsed()).toBeLessThan(70_000);
  });

  it('takes no host for missing when a cancelled invocation turns Cancelled while another still runs', async () => {
    // Prepare: host 1 is cancelled at 40 s and shows Cancelled 3 s later, when ListCommands counts it
    // (and the run has already settled it); host 2 runs until 90 s
    const { ssm, runner, elapsed } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 90_000 },
    );
    ssm.cancellingMs = 3000;

    // Act
    const results = await runner.run(documentRun(ids(2), { executionSeconds: 600 }));

    // Assess: host 2's own result, not "SSM returned no result for this host" after a few reads
    expect(results.get(ID(1))).toMatchObject({ kind: 'unreachable' });
    expect(results.get(ID(2))).toMatchObject({ kind: 'output', succeeded: true });
    expect(ssm.commands[0]?.invocations.find((i) => i.instanceId === ID(1))?.status).toBe('Cancelled');
    expect(elapsed()).toBeGreaterThanOrEqual(90_000);
    expect(elapsed()).toBeLessThan(100_000);
  });

  it('only notes a cancel that failed, and still reports the host', async () => {
    // Prepare
    const { ssm, runner, warnings } = setup(() => ({ kind: 'run-forever' }));
    ssm.interject('CancelCommand', awsError('InvalidCommandId', 'The command ID is not valid'));

    // Act
    const results = await runner.run(documentRun(ids(1)));

    // Assess
    expect(results.get(ID(1))).toStrictEqual({ kind: 'failed', detail: 'the run gave up' });
    expect(warnings).toStrictEqual([
      {
        message: 'cancelling abandoned invocations failed',
        extra: { commandId: COMMAND(1), error: 'InvalidCommandId: The command ID is not valid' },
      },
    ]);
  });

  it('skips the pick-up check when its read fails, then gives up on the host at the give-up time', async () => {
    // Prepare: the read at the pick-up time (40 s) fails
    const { ssm, runner, warnings, elapsed } = setup(() => ({ kind: 'never-start' }));
    ssm.interject('ListCommandInvocations', awsError('InternalServerError', 'Internal failure'));

    // Act
    const results = await runner.run(documentRun(ids(1)));

    // Assess: not "did not start within 40 s" (never checked), but the give-up reason at 60 s
    expect(results.get(ID(1))).toStrictEqual({ kind: 'failed', detail: 'the run gave up' });
    expect(warnings.map((w) => w.message)).toStrictEqual(['reading command results failed']);
    expect(ssm.count('ListCommandInvocations')).toBe(2);
    expect(elapsed()).toBe(60_000);
    expect(ssm.calls.find((c) => c.operation === 'CancelCommand')?.input.InstanceIds).toStrictEqual([ID(1)]);
  });

  it('fails the hosts still open when reading at the give-up time fails, and keeps what was settled', async () => {
    // Prepare: host 1 never starts (settled and cancelled at 40 s); host 2 runs on; the read at 60 s
    // fails. Between them one read finds host 1 Cancelled (counted completed now) and host 2 running.
    const { ssm, runner } = setup((id) => (id === ID(1) ? { kind: 'never-start' } : { kind: 'run-forever' }));
    ssm.interject('ListCommandInvocations', null, null, awsError('InternalServerError', 'Internal failure'));

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: nothing more is cancelled, since which invocations still run is unknown
    expect(results.get(ID(1))).toMatchObject({ kind: 'unreachable' });
    expect(results.get(ID(2))).toStrictEqual({
      kind: 'failed',
      detail: 'reading the command results failed: InternalServerError: Internal failure',
    });
    expect(
      ssm.calls.filter((c) => c.operation === 'CancelCommand').map((c) => c.input.InstanceIds),
    ).toStrictEqual([[ID(1)]]);
  });

  it('gives up on every open host with the reason given when the run reaches its deadline mid-poll', async () => {
    // Prepare: the deadline of AWS calls (20 s) comes before the command's pick-up time (40 s)
    const { ssm, runner, warnings, elapsed } = setup(() => ({ kind: 'run-forever' }), { deadlineIn: 20_000 });

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess: neither listing nor reading is possible after 20 s; no warning, no cancel
    expect([...results.values()]).toStrictEqual([
      { kind: 'failed', detail: 'the run gave up' },
      { kind: 'failed', detail: 'the run gave up' },
    ]);
    expect(warnings).toStrictEqual([]);
    expect(ssm.count('ListCommandInvocations')).toBe(0);
    expect(ssm.count('CancelCommand')).toBe(0);
    expect(elapsed()).toBe(40_000);
  });
});

describe('CommandRunner: how each invocation ended', () => {
  const skipped = {
    Name: 'windows',
    Output: 'Step execution skipped due to unsatisfied preconditions: "platformType"',
  };
  const ran = (id: string) => ({ Name: 'linux', Output: PROBE_OUTPUT(id) });

  it('reads each terminal status as the result the steps judge by', async () => {
    // Prepare
    const behaviours: Record<string, Behaviour> = {
      [ID(1)]: { kind: 'end', status: 'Success', plugins: [skipped, ran(ID(1))] },
      [ID(2)]: { kind: 'end', status: 'Failed', plugins: [ran(ID(2))] },
      [ID(3)]: { kind: 'end', status: 'Cancelled' },
      [ID(4)]: { kind: 'end', status: 'TimedOut', details: 'DeliveryTimedOut' },
      [ID(5)]: { kind: 'end', status: 'TimedOut', details: 'ExecutionTimedOut', plugins: [ran(ID(5))] },
      [ID(6)]: { kind: 'end', status: 'Failed', details: 'Undeliverable' },
      [ID(7)]: { kind: 'end', status: 'Failed', details: 'Terminated' },
    };
    const { ssm, runner } = setup((id) => behaviours[id] ?? succeed);

    // Act
    const results = await runner.run(documentRun(ids(7)));

    // Assess
    expect(Object.fromEntries(results)).toStrictEqual({
      [ID(1)]: { kind: 'output', succeeded: true, output: PROBE_OUTPUT(ID(1)) },
      [ID(2)]: { kind: 'output', succeeded: false, output: PROBE_OUTPUT(ID(2)) },
      [ID(3)]: { kind: 'failed', detail: 'the command was cancelled' },
      [ID(4)]: { kind: 'unreachable', detail: 'DeliveryTimedOut' },
      [ID(5)]: { kind: 'output', succeeded: false, output: PROBE_OUTPUT(ID(5)), timedOut: true },
      [ID(6)]: { kind: 'unreachable', detail: 'Undeliverable' },
      [ID(7)]: { kind: 'unreachable', detail: 'Terminated' },
    });
    // Every output ended with its "end" line: nothing to read whole, nothing to cancel.
    expect(ssm.count('GetCommandInvocation')).toBe(0);
    expect(ssm.count('CancelCommand')).toBe(0);
  });
});

/** Sends a command through the fake and returns its id, for tests that drive the tracker itself. */
async function send(ssm: FakeSsm, documentName: string, instanceIds: string[]): Promise<string> {
  const sent = await ssm.client.send(
    new SendCommandCommand({ DocumentName: documentName, InstanceIds: instanceIds }),
  );
  return sent.Command?.CommandId ?? '';
}

const tracked = (
  commandId: string,
  instanceIds: string[],
  overrides: Partial<Parameters<CommandTracker['track']>[0]> = {},
) => ({
  commandId,
  documentName: 'Probe-doc',
  instanceIds,
  sentAt: T0,
  pickupBy: T0 + 40_000,
  giveUpAt: T0 + 60_000,
  giveUpReason: 'the run gave up',
  ...overrides,
});

describe('CommandTracker: what it asks SSM', () => {
  it('lists finished commands of the document sent since a minute before the earliest send, in whole seconds, and reads results with details', async () => {
    // Prepare: two commands of one document, sent at 07:00:30.500 and 07:00:10.250
    const { ssm, tracker } = setup(() => succeed);
    const first = await send(ssm, 'Probe-doc', [ID(1)]);
    const second = await send(ssm, 'Probe-doc', [ID(2)]);

    // Act
    const results = await Promise.all([
      tracker.track(tracked(first, [ID(1)], { sentAt: T0 + 30_500 })),
      tracker.track(tracked(second, [ID(2)], { sentAt: T0 + 10_250 })),
    ]);

    // Assess
    expect(results.map((r) => [...r.values()][0])).toStrictEqual([
      { kind: 'output', succeeded: true, output: PROBE_OUTPUT(ID(1)) },
      { kind: 'output', succeeded: true, output: PROBE_OUTPUT(ID(2)) },
    ]);
    expect(ssm.calls.find((c) => c.operation === 'ListCommands')?.input).toStrictEqual({
      Filters: [
        { key: 'InvokedAfter', value: '2026-11-30T06:59:10Z' },
        { key: 'DocumentName', value: 'Probe-doc' },
        { key: 'ExecutionStage', value: 'Complete' },
      ],
      MaxResults: 50,
      NextToken: undefined,
    });
    expect(
      ssm.calls.filter((c) => c.operation === 'ListCommandInvocations').map((c) => c.input),
    ).toStrictEqual([
      { CommandId: first, Details: true, MaxResults: 50, NextToken: undefined },
      { CommandId: second, Details: true, MaxResults: 50, NextToken: undefined },
    ]);
  });

  it('pages through one document’s commands only while one of that document is still unseen', async () => {
    // Prepare: one command of each of two documents, listed one a page; another Probe-doc
    // command follows this run's
    const { ssm, tracker } = setup(() => succeed);
    ssm.listCommandsPageSize = 1;
    const probe = await send(ssm, 'Probe-doc', [ID(1)]);
    ssm.commands.push({ id: 'later', documentName: 'Probe-doc', sentAt: T0, invocations: [] });
    const other = await send(ssm, 'Other-doc', [ID(2)]);

    // Act
    await Promise.all([
      tracker.track(tracked(probe, [ID(1)])),
      tracker.track(tracked(other, [ID(2)], { documentName: 'Other-doc' })),
    ]);

    // Assess: the Probe-doc listing stops at its first page; Other-doc's command is not sought there
    expect(
      ssm.calls
        .filter((c) => c.operation === 'ListCommands')
        .map((c) => [(c.input.Filters as { value: string }[])[1]?.value, c.input.NextToken]),
    ).toStrictEqual([
      ['Probe-doc', undefined],
      ['Other-doc', undefined],
    ]);
  });

  it('reads every page of a command’s invocations', async () => {
    // Prepare: SSM shows host 1 on a first page and both on the next
    const { ssm, runner } = setup(() => succeed);
    ssm.interject('ListCommandInvocations', {
      CommandInvocations: [host1Succeeded],
      NextToken: 'page-2',
    });

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    expect([...results.values()].map((r) => r.kind)).toStrictEqual(['output', 'output']);
    expect(
      ssm.calls.filter((c) => c.operation === 'ListCommandInvocations').map((c) => c.input.NextToken),
    ).toStrictEqual([undefined, 'page-2']);
  });

  it('reports each SSM operation it was throttled on by name', async () => {
    // Prepare: host 1's output was cut (read whole); host 2 never starts (cancelled at pick-up)
    const long = `ktr-probe v1\n${'comp x\n'.repeat(600)}end`;
    const { ssm, runner, throttled } = setup((id) =>
      id === ID(1) ? { kind: 'succeed', output: long } : { kind: 'never-start' },
    );
    for (const operation of [
      'SendCommand',
      'ListCommands',
      'ListCommandInvocations',
      'GetCommandInvocation',
      'CancelCommand',
    ])
      ssm.interject(operation, awsError('ThrottlingException', 'Rate exceeded'));

    // Act
    const results = await runner.run(documentRun(ids(2)));

    // Assess
    expect(results.get(ID(1))).toStrictEqual({ kind: 'output', succeeded: true, output: long });
    expect(results.get(ID(2))).toMatchObject({ kind: 'unreachable' });
    expect([...throttled].sort()).toStrictEqual([
      'CancelCommand',
      'GetCommandInvocation',
      'ListCommandInvocations',
      'ListCommands',
      'SendCommand',
    ]);
  });

  const longOutput = `ktr-probe v1\n${'comp x\n'.repeat(600)}end`;
  it.each([
    {
      operation: 'SendCommand',
      deadlineIn: 100,
      behaviour: succeed,
      expected: { kind: 'failed', detail: 'the run gave up' },
    },
    {
      operation: 'ListCommands',
      deadlineIn: 1100,
      behaviour: succeed,
      expected: { kind: 'failed', detail: 'the run gave up' },
    },
    {
      operation: 'ListCommandInvocations',
      deadlineIn: 1100,
      behaviour: succeed,
      expected: { kind: 'failed', detail: 'the run gave up' },
    },
    {
      operation: 'GetCommandInvocation',
      deadlineIn: 1100,
      behaviour: { kind: 'succeed', output: longOutput } as Behaviour,
      expected: { kind: 'output', succeeded: true, output: longOutput.slice(0, 2500) },
    },
    {
      operation: 'CancelCommand',
      deadlineIn: 40_100,
      behaviour: { kind: 'never-start' } as Behaviour,
      expected: {
        kind: 'unreachable',
        detail: 'the SSM Agent did not start the command within 40 s (status Pending)',
      },
    },
  ])(
    'stops waiting for a $operation call that hangs once the run reaches its deadline',
    async ({ operation, deadlineIn, behaviour, expected }) => {
      // Prepare: the deadline falls 100 ms after the call is made, and the call never answers
      const { ssm, runner } = setup(() => behaviour, { deadlineIn });
      ssm.interject(operation, HANG);

      // Act
      const results = await runner.run(documentRun(ids(1)));

      // Assess
      expect(results.get(ID(1))).toStrictEqual(expected);
    },
  );
});

describe('CommandTracker: when it polls', () => {
  it('sleeps on the real clock between polls when given no sleep of its own', async () => {
    // Prepare: the real clock throughout; the host finishes 300 ms after the send, polled every 50 ms
    const ssm = new FakeSsm(() => ({ kind: 'succeed', afterMs: 300 }));
    const caller = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 1000, burst: 1000 }),
      deadlineAt: Date.now() + 60_000,
    });
    const tracker = new CommandTracker({
      ssm: ssm.client,
      caller,
      pollIntervalMs: 50,
      maxPollIntervalMs: 50,
    });
    const runner = new CommandRunner({ ssm: ssm.client, caller, tracker, pickupSeconds: 30 });

    // Act
    const results = await runner.run(documentRun(ids(1), { giveUpAt: Date.now() + 60_000 }));

    // Assess: about six polls, not one after another without a pause
    expect(results.get(ID(1))).toMatchObject({ kind: 'output', succeeded: true });
    expect(ssm.count('ListCommands')).toBeGreaterThanOrEqual(2);
    expect(ssm.count('ListCommands')).toBeLessThanOrEqual(12);
  });

  it('backs off while nothing finishes, up to the longest interval', async () => {
    // Prepare: the host finishes after 7 s
    const { runner, pauses } = setup(() => ({ kind: 'succeed', afterMs: 7000 }));

    // Act
    await runner.run(documentRun(ids(1)));

    // Assess
    expect(pauses).toStrictEqual([1000, 1500, 2250, 3375]);
  });

  it('polls at the first interval again once a command finished, for the others still open', async () => {
    // Prepare: one command's host finishes after 3 s, the other's after 8 s
    const { ssm, tracker, pauses } = setup((id) => ({
      kind: 'succeed',
      afterMs: id === ID(1) ? 3000 : 8000,
    }));
    const first = await send(ssm, 'Probe-doc', [ID(1)]);
    const second = await send(ssm, 'Probe-doc', [ID(2)]);

    // Act
    await Promise.all([tracker.track(tracked(first, [ID(1)])), tracker.track(tracked(second, [ID(2)]))]);

    // Assess: the first is done at 4.75 s, and the interval starts over
    expect(pauses).toStrictEqual([1000, 1500, 2250, 1000, 1500, 2250]);
  });

  it.each([
    {
      what: 'reading its results failed',
      arrange: (ssm: FakeSsm) => ssm.interject('ListCommandInvocations', awsError('InternalServerError')),
    },
    {
      what: 'SSM did not show its results yet',
      arrange: (ssm: FakeSsm) => {
        ssm.invisibleReads = 1;
      },
    },
  ])('keeps backing off when a finished command is not done because $what', async ({ arrange }) => {
    // Prepare
    const { ssm, runner, pauses } = setup(() => succeed);
    arrange(ssm);

    // Act
    await runner.run(documentRun(ids(1)));

    // Assess: read at 1 s, and again at 2.5 s
    expect(pauses).toStrictEqual([1000, 1500]);
  });

  it('keeps backing off after a pick-up check that left a host still running', async () => {
    // Prepare: host 1 never starts (settled at the pick-up time, 10 s); host 2 finishes at 20 s
    const { ssm, tracker, pauses } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 20_000 },
    );
    const commandId = await send(ssm, 'Probe-doc', ids(2));

    // Act
    const results = await tracker.track(tracked(commandId, ids(2), { pickupBy: T0 + 10_000 }));

    // Assess: the pause before the pick-up time is cut short to meet it
    expect(results.get(ID(2))).toMatchObject({ kind: 'output', succeeded: true });
    expect(pauses).toStrictEqual([1000, 1500, 2250, 3375, 1875, 5000, 5000]);
  });

  it('checks each command at its own pick-up time, however late another’s is', async () => {
    // Prepare: the first command's agent never starts, pick-up by 10 s; the second's finishes at 12 s
    const { ssm, tracker, elapsed } = setup((id) =>
      id === ID(1) ? { kind: 'never-start' } : { kind: 'succeed', afterMs: 12_000 },
    );
    const first = await send(ssm, 'Probe-doc', [ID(1)]);
    const second = await send(ssm, 'Probe-doc', [ID(2)]);
    let firstSettledAt: number | undefined;

    // Act
    await Promise.all([
      tracker.track(tracked(first, [ID(1)], { pickupBy: T0 + 10_000 })).then(() => {
        firstSettledAt = elapsed();
      }),
      tracker.track(tracked(second, [ID(2)], { pickupBy: T0 + 50_000 })),
    ]);

    // Assess
    expect(firstSettledAt).toBe(10_000);
  });

  it('follows commands tracked after an earlier batch was done', async () => {
    // Prepare
    const { ssm, tracker } = setup(() => succeed);
    const first = await send(ssm, 'Probe-doc', [ID(1)]);
    await tracker.track(tracked(first, [ID(1)]));
    await new Promise((resolve) => setImmediate(resolve)); // the first poller has stopped
    const second = await send(ssm, 'Probe-doc', [ID(2)]);

    // Act
    const results = await tracker.track(tracked(second, [ID(2)], { sentAt: T0 + 60_000 }));

    // Assess
    expect(results.get(ID(2))).toMatchObject({ kind: 'output', succeeded: true });
  });
});

describe('CommandTracker: SSM counting a command finished too early', () => {
  it.each([
    { what: 'shows the host still Pending', invocationReads: [] as (Error | null)[] },
    { what: 'fails to show it', invocationReads: [awsError('InternalServerError')] },
  ])(
    'still checks pick-up at its time when SSM counts a command finished but $what',
    async ({ invocationReads }) => {
      // Prepare: the first list counts the never-started command complete
      const { ssm, runner } = setup(() => ({ kind: 'never-start' }));
      ssm.interject('ListCommands', {
        Commands: [{ CommandId: COMMAND(1), TargetCount: 1, CompletedCount: 1 }],
      });
      if (invocationReads.length > 0) ssm.interject('ListCommandInvocations', ...invocationReads);

      // Act
      const results = await runner.run(documentRun(ids(1)));

      // Assess: unreachable at the pick-up time, after a second read
      expect(results.get(ID(1))).toStrictEqual({
        kind: 'unreachable',
        detail: 'the SSM Agent did not start the command within 40 s (status Pending)',
      });
      expect(ssm.count('ListCommandInvocations')).toBe(2);
    },
  );
});

describe('CommandTracker: without a warn callback', () => {
  it('still settles every host when listing, reading and cancelling fail', async () => {
    // Prepare
    const { ssm, runner } = setup(() => ({ kind: 'run-forever' }), { withoutWarn: true });
    ssm.interject('ListCommands', awsError('InternalServerError'));
    ssm.interject('ListCommandInvocations', awsError('InternalServerError'));
    ssm.interject('CancelCommand', awsError('InternalServerError'));

    // Act
    const results = await runner.run(documentRun(ids(1)));

    // Assess
    expect(results.get(ID(1))).toStrictEqual({ kind: 'failed', detail: 'the run gave up' });
    expect(ssm.count('CancelCommand')).toBe(1);
  });
});
