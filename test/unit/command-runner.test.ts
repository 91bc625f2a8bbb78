/**
 * The command runner and its one status poller, against a scripted SSM client: batching,
 * one results read per finished command, InvalidInstanceId isolation, giving up on lost
 * hosts (and cancelling them), throttling and the deadline.
 */
import { describe, expect, it } from 'vitest';
import { AwsCaller } from '../../lambda/aws/aws-call.ts';
import { CommandRunner, type DocumentRun } from '../../lambda/aws/command-runner.ts';
import { CommandTracker } from '../../lambda/aws/command-tracker.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import { type Behaviour, FakeSsm } from './fake-ssm.ts';

/** A SHA-256 as the stack computes it for a document's content. */
const DOCUMENT_HASH = '3f'.repeat(32);
const ID = (n: number) => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;

function runnerFor(ssm: FakeSsm, options: { deadlineAt?: number; pickupSeconds?: number } = {}) {
  const caller = new AwsCaller({
    pacer: new Pacer({ ratePerSecond: 1000, burst: 1000 }),
    deadlineAt: options.deadlineAt ?? Date.now() + 60_000,
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
  });
  const tracker = new CommandTracker({ ssm: ssm.client, caller, pollIntervalMs: 20, maxPollIntervalMs: 100 });
  return new CommandRunner({ ssm: ssm.client, caller, tracker, pickupSeconds: options.pickupSeconds ?? 0.3 });
}

const documentRun = (ids: string[], overrides: Partial<DocumentRun> = {}): DocumentRun => ({
  documentName: 'Probe-doc',
  documentVersion: '1',
  documentHash: DOCUMENT_HASH,
  instanceIds: ids,
  parametersFor: () => ({}),
  comment: { runId: 'test', scope: 'fleet', step: 'observe' },
  expectedSeconds: 0,
  executionSeconds: 0.5,
  giveUpAt: Date.now() + 30_000,
  giveUpReason: 'the run gave up',
  ...overrides,
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => ID(i + 1));

describe('CommandRunner', () => {
  it('sends 50 hosts per command and reads each finished command once', async () => {
    const ssm = new FakeSsm((): Behaviour => ({ kind: 'succeed', afterMs: 30 }));
    const results = await runnerFor(ssm).run(documentRun(ids(120)));
    expect(results.size).toBe(120);
    expect([...results.values()].every((r) => r.kind === 'output' && r.succeeded)).toBe(true);
    expect(
      ssm.calls
        .filter((c) => c.operation === 'SendCommand')
        .map((c) => (c.input.InstanceIds as string[]).length),
    ).toEqual([50, 50, 20]);
    expect(ssm.count('ListCommandInvocations')).toBe(3);
  });

  it('pins the document version and lets SSM send to every target despite errors', async () => {
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    await runnerFor(ssm).run(documentRun(ids(2)));
    const input = ssm.calls.find((c) => c.operation === 'SendCommand')?.input;
    expect(input).toMatchObject({
      DocumentVersion: '1',
      MaxErrors: '100%',
      MaxConcurrency: '100%',
      TimeoutSeconds: 30,
    });
  });

  it('pins the document content: every SendCommand carries the deployed content hash as a Sha256 DocumentHash', async () => {
    // Prepare: a host SSM refuses, so the batch is halved and sent again (every send must carry it)
    const ssm = new FakeSsm((id): Behaviour => (id === ID(3) ? { kind: 'invalid' } : { kind: 'succeed' }));

    // Act
    await runnerFor(ssm).run(documentRun(ids(60)));

    // Assess
    const sends = ssm.calls.filter((c) => c.operation === 'SendCommand').map((c) => c.input);
    expect(sends.length).toBeGreaterThan(2);
    for (const input of sends) {
      expect(input).toMatchObject({ DocumentHash: DOCUMENT_HASH, DocumentHashType: 'Sha256' });
    }
  });

  it('isolates a host SSM refuses (InvalidInstanceId) so the other 49 still run', async () => {
    const ssm = new FakeSsm((id): Behaviour => (id === ID(17) ? { kind: 'invalid' } : { kind: 'succeed' }));
    const results = await runnerFor(ssm).run(documentRun(ids(50)));
    const refused = results.get(ID(17));
    expect(refused).toMatchObject({ kind: 'unreachable' });
    expect(refused?.kind === 'unreachable' && refused.detail).toContain('InvalidInstanceId');
    const others = [...results.entries()].filter(([id]) => id !== ID(17));
    expect(others.every(([, r]) => r.kind === 'output')).toBe(true);
    // Halving finds one culprit among 50 in a handful of sends, not 50.
    expect(ssm.count('SendCommand')).toBeLessThanOrEqual(13);
  });

  it('gives up on a host whose agent never starts the command, reports it unreachable and cancels it', async () => {
    const ssm = new FakeSsm(
      (id): Behaviour => (id === ID(2) ? { kind: 'never-start' } : { kind: 'succeed' }),
    );
    const results = await runnerFor(ssm).run(documentRun(ids(3)));
    expect(results.get(ID(2))).toMatchObject({ kind: 'unreachable' });
    expect(results.get(ID(1))).toMatchObject({ kind: 'output' });
    const cancel = ssm.calls.find((c) => c.operation === 'CancelCommand');
    expect(cancel?.input.InstanceIds).toEqual([ID(2)]);
  });

  it('gives up on a command still running past its execution time, and cancels it', async () => {
    const ssm = new FakeSsm((): Behaviour => ({ kind: 'run-forever' }));
    const results = await runnerFor(ssm).run(documentRun(ids(2)));
    expect([...results.values()]).toEqual([
      { kind: 'failed', detail: 'the run gave up' },
      { kind: 'failed', detail: 'the run gave up' },
    ]);
    expect(ssm.calls.find((c) => c.operation === 'CancelCommand')?.input.InstanceIds).toEqual([ID(1), ID(2)]);
  });

  it('retries a throttled SendCommand instead of failing its hosts', async () => {
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.throttleSends = 3;
    const results = await runnerFor(ssm).run(documentRun(ids(5)));
    expect([...results.values()].every((r) => r.kind === 'output')).toBe(true);
    expect(ssm.count('SendCommand')).toBe(4);
  });

  it('reads again when a finished command does not show its invocations yet', async () => {
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.invisibleReads = 2;
    const results = await runnerFor(ssm).run(documentRun(ids(3)));
    expect([...results.values()].every((r) => r.kind === 'output')).toBe(true);
    expect(ssm.count('ListCommandInvocations')).toBe(3);
  });

  it('reads output cut at 2,500 characters whole with GetCommandInvocation', async () => {
    const long = `ktr-probe v1\n${'comp x\n'.repeat(600)}end`;
    const ssm = new FakeSsm(() => ({ kind: 'succeed', output: long }));
    const results = await runnerFor(ssm).run(documentRun(ids(1)));
    expect(results.get(ID(1))).toMatchObject({ kind: 'output', output: long });
    expect(ssm.count('GetCommandInvocation')).toBe(1);
  });

  it('sends nothing once the deadline has passed and says why for every host', async () => {
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    const results = await runnerFor(ssm, { deadlineAt: Date.now() - 1 }).run(documentRun(ids(2)));
    expect([...results.values()].every((r) => r.kind === 'failed' && r.detail === 'the run gave up')).toBe(
      true,
    );
    expect(ssm.count('SendCommand')).toBe(0);
  });
});
