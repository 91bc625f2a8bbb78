/**
 * The product's command runner and poller against the proving ground's wire-level SSM, where a
 * cancelled invocation shows Cancelling for a while ("Understanding command statuses",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html): a host the
 * run gave up on and cancelled must not keep the command open, and keeps the run's own reason.
 * Then the whole product, on scripted hosts, with a host whose agent stops mid-push (the same
 * scenario runs on the real SSM Agent in real-agent.test.ts).
 */
import { createHash } from 'node:crypto';
import { GetCommandInvocationCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsCaller } from '../../lambda/aws/aws-call.ts';
import { CommandRunner } from '../../lambda/aws/command-runner.ts';
import { CommandTracker } from '../../lambda/aws/command-tracker.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import type { AwsServer } from '../proving-ground/aws/server.ts';
import {
  ec2Id,
  NOISE_DOC,
  node,
  ShellFleet,
  ssmClient,
  startTestServer,
} from '../proving-ground/aws/testkit.ts';
import { expectRunPastAgentStoppedMidPush } from './stopped-agent.ts';

const servers: AwsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('a host given up on whose invocation stays Cancelling', () => {
  it('is settled at its pick-up time with the run’s reason, and its neighbour as soon as that finishes', async () => {
    // Prepare: node 1's agent is offline (Pending until cancelled, then Cancelling for 20 s);
    // node 2 runs a 2-second step. The run would give up on both only after a minute.
    const fleet = new ShellFleet([node(ec2Id(1), { online: false }), node(ec2Id(2))]);
    const server = await startTestServer(fleet, { cancellingMs: 20_000 });
    servers.push(server);
    const ssm = ssmClient(server, 3);
    const caller = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 50, burst: 50 }),
      deadlineAt: Date.now() + 120_000,
    });
    const tracker = new CommandTracker({ ssm, caller, pollIntervalMs: 200, maxPollIntervalMs: 500 });
    const runner = new CommandRunner({ ssm, caller, tracker, pickupSeconds: 1 });
    const started = Date.now();

    // Act
    const results = await runner.run({
      documentName: 'Test-Noise',
      documentVersion: '1',
      // The proving ground created Test-Noise from this text, so this is its content hash.
      documentHash: createHash('sha256').update(JSON.stringify(NOISE_DOC)).digest('hex'),
      instanceIds: [ec2Id(1), ec2Id(2)],
      parametersFor: () => ({ Sleep: ['2'], Out: ['5'] }),
      comment: { runId: 'cancelling-e2e', scope: 'hosts', step: 'observe' },
      expectedSeconds: 0,
      executionSeconds: 60,
      giveUpAt: Date.now() + 90_000,
      giveUpReason: 'the run gave up',
    });
    const tookMs = Date.now() - started;
    const cancels = server.calls.filter((c) => c.operation === 'CancelCommand');
    const cancel = cancels[0]?.params as { CommandId: string; InstanceIds: string[] };
    const cancelled = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: cancel.CommandId, InstanceId: ec2Id(1) }),
    );

    // Assess
    expect(results.get(ec2Id(1))).toMatchObject({
      kind: 'unreachable',
      detail: expect.stringContaining('did not start the command within 1 s'),
    });
    expect(results.get(ec2Id(2))).toMatchObject({ kind: 'output', succeeded: true });
    expect(cancelled.Status).toBe('Cancelling');
    expect(cancels).toHaveLength(1);
    expect(cancel.InstanceIds).toStrictEqual([ec2Id(1)]);
    expect(tookMs).toBeGreaterThanOrEqual(2000);
    expect(tookMs).toBeLessThan(10_000);
  }, 60_000);
});

describe('a reconcile run on scripted hosts, one of whose agents stops while its push runs', () => {
  it('finishes without waiting for the cancel nobody hears, and reports that host failed', async () => {
    await expectRunPastAgentStoppedMidPush('scripts');
  }, 90_000);
});
