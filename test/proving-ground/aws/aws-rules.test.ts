/**
 * One focused test per documented AWS rule the proving ground keeps by default (issue 8): each test names
 * the rule; the code that enforces it cites its AWS source.
 */
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  type ListCommandsCommandInput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { AwsServer } from './server.ts';
import {
  ec2Id,
  hybridId,
  node,
  rawCall,
  rejection,
  ShellFleet,
  ssmServersPerTest,
  TAG,
  waitFor,
} from './testkit.ts';

const TOKEN = 'c2VhbGVkLXJlZ2lzdHJhdGlvbi10b2tlbg==';

const setUp = ssmServersPerTest();

const noise = (ssm: SSMClient, ids: string[], parameters: Record<string, string[]> = {}) =>
  ssm.send(new SendCommandCommand({ DocumentName: 'Test-Noise', InstanceIds: ids, Parameters: parameters }));

describe('DescribeInstanceInformation rules', () => {
  it('does not list stopped or terminated instances at all, and reports each node its own agent version', async () => {
    // Prepare
    const fleet = new ShellFleet([
      node(ec2Id(1), { agentVersion: '3.2.582.0' }),
      node(ec2Id(2), { state: 'stopped' }),
      node(ec2Id(3), { state: 'terminated' }),
      node(hybridId(4), { online: false }),
    ]);
    const { ssm } = await setUp(fleet);

    // Act
    const out = await ssm.send(new DescribeInstanceInformationCommand({}));

    // Assess
    expect(out.InstanceInformationList?.map((i) => [i.InstanceId, i.PingStatus, i.AgentVersion])).toEqual([
      [ec2Id(1), 'Online', '3.2.582.0'],
      [hybridId(4), 'ConnectionLost', '3.3.2746.0'],
    ]);
    expect(out.InstanceInformationList?.[0]?.IsLatestVersion).toBe(false);
  });

  it('refuses a tag filter mixed with any other filter key with the 400 ValidationException AWS sends', async () => {
    // Prepare
    const { server } = await setUp(new ShellFleet([node(ec2Id(1))]));

    // Act
    const withIds = await rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {
      Filters: [
        { Key: `tag:${TAG.key}`, Values: [TAG.value] },
        { Key: 'InstanceIds', Values: [ec2Id(1)] },
      ],
    });
    const withPing = await rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {
      Filters: [
        { Key: 'tag-key', Values: [TAG.key] },
        { Key: 'PingStatus', Values: ['Online'] },
      ],
    });
    const twoTags = await rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {
      Filters: [
        { Key: `tag:${TAG.key}`, Values: [TAG.value] },
        { Key: 'tag-key', Values: [TAG.key] },
      ],
    });

    // Assess
    const expected = {
      __type: 'ValidationException',
      message: 'Cannot mix tag or inventory filter with any other filter.',
    };
    expect([withIds.status, withIds.json]).toEqual([400, expected]);
    expect(withIds.headers.get('x-amzn-errortype')).toBe('ValidationException');
    expect([withPing.status, withPing.json]).toEqual([400, expected]);
    expect(twoTags.status).toBe(200);
  });

  it('refuses Filters together with the legacy InstanceInformationFilterList', async () => {
    // Prepare
    const { ssm } = await setUp(new ShellFleet([node(ec2Id(1))]));

    // Act
    const error = await rejection(
      ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'PingStatus', Values: ['Online'] }],
          InstanceInformationFilterList: [{ key: 'PlatformTypes', valueSet: ['Linux'] }],
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('ValidationException');
  });
});

describe('SendCommand rules', () => {
  it('fails the whole call with InvalidInstanceId when one node is stopped or terminated, and runs nothing anywhere', async () => {
    // Prepare
    const fleet = new ShellFleet([
      node(ec2Id(1)),
      node(ec2Id(2), { state: 'stopped' }),
      node(ec2Id(3), { state: 'terminated' }),
    ]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const stopped = await rejection(noise(ssm, [ec2Id(1), ec2Id(2)]));
    const terminated = await rejection(noise(ssm, [ec2Id(3), ec2Id(1)]));
    await server.idle();

    // Assess
    expect([stopped.name, terminated.name]).toEqual(['InvalidInstanceId', 'InvalidInstanceId']);
    expect(fleet.runs).toHaveLength(0);
  });

  it('accepts DocumentVersion $DEFAULT, $LATEST and 1, reports version 1, and refuses another version with InvalidDocumentVersion', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { server, ssm } = await setUp(fleet);
    const send = (DocumentVersion: string) =>
      ssm.send(
        new SendCommandCommand({ DocumentName: 'Test-Noise', InstanceIds: [ec2Id(1)], DocumentVersion }),
      );

    // Act
    const accepted = [await send('$DEFAULT'), await send('$LATEST'), await send('1')];
    const missing = await rejection(send('2'));
    const malformed = await rejection(send('latest'));
    await server.idle();
    const invocations = await ssm.send(new ListCommandInvocationsCommand({}));

    // Assess
    expect(accepted.map((a) => a.Command?.DocumentVersion)).toEqual(['1', '1', '1']);
    expect(invocations.CommandInvocations?.map((i) => i.DocumentVersion)).toEqual(['1', '1', '1']);
    expect(missing.name).toBe('InvalidDocumentVersion');
    expect(missing.message).toBe("The document version isn't valid or doesn't exist.");
    expect(malformed.name).toBe('ValidationException');
    expect(fleet.runs).toHaveLength(3);
  });

  it('runs scripts on agents older than 3.3.2746.0 without SSM_<Param> variables but with the instance id and region', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1), { agentVersion: '3.2.2303.0' })]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Deliver',
        InstanceIds: [ec2Id(1)],
        Parameters: { Token: [TOKEN] },
      }),
    );
    await server.idle();
    const out = await ssm.send(
      new GetCommandInvocationCommand({
        CommandId: sent.Command?.CommandId,
        InstanceId: ec2Id(1),
        PluginName: 'deliverLinux',
      }),
    );

    // Assess
    expect(fleet.runs[0]?.env).toEqual({
      AWS_SSM_INSTANCE_ID: ec2Id(1),
      AWS_SSM_REGION_NAME: 'eu-west-1',
      AWS_SSM_PLATFORM_NAME: 'Ubuntu',
      AWS_SSM_PLATFORM_VERSION: '22.04',
      SSM_COMMAND_ID: sent.Command?.CommandId,
    });
    expect(out.StandardOutputContent).toContain('token= mode=check');
  });

  it('shows Delayed for a node that drops after the send and before the agent picks the command up, then runs it when the agent is back', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { server, ssm } = await setUp(fleet, { deliveryDelayMs: 2000 });

    // Act
    const sent = await noise(ssm, [ec2Id(1)]);
    fleet.update(ec2Id(1), { online: false });
    const get = () =>
      ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command?.CommandId, InstanceId: ec2Id(1) }));
    const delayed = await waitFor(get, (r) => r.Status === 'Delayed', 10_000);
    fleet.update(ec2Id(1), { online: true });
    const done = await waitFor(get, (r) => r.Status === 'Success', 15_000);
    await server.idle();

    // Assess
    expect(delayed.StatusDetails).toBe('Delayed');
    expect(done.StatusDetails).toBe('Success');
    expect(fleet.runs).toHaveLength(1);
  });
});

describe('CancelCommand', () => {
  it('shows a cancelled invocation Cancelling for a while, pending or running, before it is Cancelled', async () => {
    // Prepare: node 1's agent is offline (its invocation stays Pending); node 2 runs a 30 s step
    const fleet = new ShellFleet([node(ec2Id(1), { online: false }), node(ec2Id(2))]);
    const { server, ssm } = await setUp(fleet, { cancellingMs: 1500 });
    const slow = await noise(ssm, [ec2Id(1), ec2Id(2)], { Sleep: ['30'], Timeout: ['60'] });
    const commandId = slow.Command?.CommandId;
    const get = (id: string) => () =>
      ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }));
    await waitFor(get(ec2Id(2)), (r) => r.Status === 'InProgress', 10_000);

    // Act
    const cancelledAt = Date.now();
    await ssm.send(new CancelCommandCommand({ CommandId: commandId }));
    const right = await Promise.all([get(ec2Id(1))(), get(ec2Id(2))()]);
    const command = (await ssm.send(new ListCommandsCommand({ CommandId: commandId }))).Commands?.[0];
    const ended = await Promise.all(
      [ec2Id(1), ec2Id(2)].map((id) => waitFor(get(id), (r) => r.Status === 'Cancelled', 10_000)),
    );
    const tookMs = Date.now() - cancelledAt;
    await server.idle();

    // Assess
    expect(right.map((r) => [r.Status, r.StatusDetails])).toStrictEqual([
      ['Cancelling', 'Cancelling'],
      ['Cancelling', 'Cancelling'],
    ]);
    // Not terminal yet: the command is Cancelling and counts neither invocation completed.
    expect(command).toMatchObject({ Status: 'Cancelling', CompletedCount: 0, TargetCount: 2 });
    expect(ended.map((r) => r.StatusDetails)).toStrictEqual(['Cancelled', 'Cancelled']);
    expect(tookMs).toBeGreaterThanOrEqual(1400);
    expect(tookMs).toBeLessThan(10_000); // the 30 s sleep was killed
    expect(fleet.runs.map((r) => r.instanceId)).toStrictEqual([ec2Id(2)]);
  }, 30_000);

  it('cancels unfinished invocations, kills the running step, leaves finished ones alone, and honours InstanceIds', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1)), node(ec2Id(2))]);
    const { server, ssm } = await setUp(fleet);
    const finished = await noise(ssm, [ec2Id(1)]);
    await server.idle();
    const slow = await noise(ssm, [ec2Id(1), ec2Id(2)], { Sleep: ['30'], Timeout: ['60'] });
    const slowId = slow.Command?.CommandId;
    const get = (id: string) => () =>
      ssm.send(new GetCommandInvocationCommand({ CommandId: slowId, InstanceId: id }));
    await waitFor(get(ec2Id(2)), (r) => r.Status === 'InProgress', 10_000);
    const started = Date.now();

    // Act
    await ssm.send(new CancelCommandCommand({ CommandId: slowId, InstanceIds: [ec2Id(1)] }));
    const first = await waitFor(get(ec2Id(1)), (r) => r.Status === 'Cancelled', 10_000);
    const other = await get(ec2Id(2))();
    await ssm.send(new CancelCommandCommand({ CommandId: slowId }));
    await ssm.send(new CancelCommandCommand({ CommandId: finished.Command?.CommandId }));
    await server.idle();
    const tookMs = Date.now() - started;
    const listed = await ssm.send(new ListCommandsCommand({}));
    const unknown = await rejection(
      ssm.send(new CancelCommandCommand({ CommandId: '00000000-0000-0000-0000-000000000000' })),
    );

    // Assess
    expect(first.StatusDetails).toBe('Cancelled');
    expect(other.Status).toBe('InProgress');
    expect(tookMs).toBeLessThan(25_000); // the 30 s sleeps were killed
    const byId = new Map(listed.Commands?.map((c) => [c.CommandId, c]));
    expect(byId.get(slowId)).toMatchObject({ Status: 'Cancelled', CompletedCount: 2 });
    expect(byId.get(finished.Command?.CommandId)).toMatchObject({ Status: 'Success' });
    expect(unknown.name).toBe('InvalidCommandId');
  }, 60_000);
});

describe('ListCommands', () => {
  it('aggregates each command status and counts, filters by Status, ExecutionStage, DocumentName and time, and pages', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1)), node(ec2Id(2)), node(hybridId(3), { online: false })]);
    const { server, ssm } = await setUp(fleet);
    const ok = await noise(ssm, [ec2Id(1), ec2Id(2)]);
    const failed = await noise(ssm, [ec2Id(1), ec2Id(2)], { Exit: ['2'] });
    const waiting = await noise(ssm, [hybridId(3), ec2Id(1)]);
    // Wait until every invocation that can run has run (the lost node's one stays Pending).
    await waitFor(
      () => ssm.send(new ListCommandsCommand({})),
      (r) => (r.Commands ?? []).reduce((n, c) => n + (c.CompletedCount ?? 0), 0) === 5,
      10_000,
    );
    const list = (input: ListCommandsCommandInput) => ssm.send(new ListCommandsCommand(input));

    // Act
    const all = await list({});
    const page1 = await list({ MaxResults: 2 });
    const page2 = await list({ MaxResults: 2, NextToken: page1.NextToken });
    const byStatus = await list({ Filters: [{ key: 'Status', value: 'Failed' }] });
    const executing = await list({ Filters: [{ key: 'ExecutionStage', value: 'Executing' }] });
    const complete = await list({ Filters: [{ key: 'ExecutionStage', value: 'Complete' }] });
    const byDocument = await list({ Filters: [{ key: 'DocumentName', value: 'Test-Deliver' }] });
    const future = await list({ Filters: [{ key: 'InvokedAfter', value: '2999-01-01T00:00:00Z' }] });
    const forNode = await list({ InstanceId: hybridId(3) });
    const badKey = await rawCall(server, 'AmazonSSM.ListCommands', {
      Filters: [{ key: 'Colour', value: 'x' }],
    });
    const tooMany = await rejection(list({ MaxResults: 51 }));

    // Assess
    const view = (id: string | undefined) => all.Commands?.find((c) => c.CommandId === id);
    expect(view(ok.Command?.CommandId)).toMatchObject({
      Status: 'Success',
      TargetCount: 2,
      CompletedCount: 2,
      ErrorCount: 0,
      DeliveryTimedOutCount: 0,
    });
    expect(view(failed.Command?.CommandId)).toMatchObject({
      Status: 'Failed',
      CompletedCount: 2,
      ErrorCount: 2,
    });
    expect(view(waiting.Command?.CommandId)).toMatchObject({ Status: 'InProgress', CompletedCount: 1 });
    expect(all.Commands?.map((c) => c.CommandId)).toEqual([
      waiting.Command?.CommandId,
      failed.Command?.CommandId,
      ok.Command?.CommandId,
    ]);
    expect([...(page1.Commands ?? []), ...(page2.Commands ?? [])].map((c) => c.CommandId)).toEqual(
      all.Commands?.map((c) => c.CommandId),
    );
    expect(page2.NextToken).toBeUndefined();
    expect(byStatus.Commands?.map((c) => c.CommandId)).toEqual([failed.Command?.CommandId]);
    expect(executing.Commands?.map((c) => c.CommandId)).toEqual([waiting.Command?.CommandId]);
    expect(new Set(complete.Commands?.map((c) => c.CommandId))).toEqual(
      new Set([ok.Command?.CommandId, failed.Command?.CommandId]),
    );
    expect(byDocument.Commands).toEqual([]);
    expect(future.Commands).toEqual([]);
    expect(forNode.Commands?.map((c) => c.CommandId)).toEqual([waiting.Command?.CommandId]);
    expect(badKey.status).toBe(400);
    expect(badKey.json.__type).toBe('ValidationException');
    expect(String(badKey.json.message)).toContain("at 'filters.1.member.key'");
    expect(tooMany.name).toBe('ValidationException');
  });
});

describe('eventual consistency', () => {
  it('hides a new command from ListCommandInvocations, GetCommandInvocation and ListCommands for consistencyDelayMs', async () => {
    // Prepare
    const { ssm } = await setUp(new ShellFleet([node(ec2Id(1))]), { consistencyDelayMs: 2500 });

    // Act
    const sent = await noise(ssm, [ec2Id(1)]);
    const commandId = sent.Command?.CommandId;
    const invocations = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
    const missing = await rejection(
      ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: ec2Id(1) })),
    );
    const commands = await ssm.send(new ListCommandsCommand({}));
    const later = await waitFor(
      () => ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId })),
      (r) => (r.CommandInvocations?.length ?? 0) > 0,
      15_000,
    );
    const elapsedMs = Date.now() - (sent.Command?.RequestedDateTime?.getTime() ?? 0);

    // Assess
    expect(invocations.CommandInvocations).toEqual([]);
    expect(missing.name).toBe('InvocationDoesNotExist');
    expect(commands.Commands).toEqual([]);
    expect(later.CommandInvocations?.[0]?.InstanceId).toBe(ec2Id(1));
    expect(elapsedMs).toBeGreaterThanOrEqual(2000);
  });
});

describe('throttling', () => {
  it('answers ThrottlingException in the exact wire form once an operation token bucket is empty, per operation', async () => {
    // Prepare
    const { server } = await setUp(new ShellFleet([node(ec2Id(1))]), {
      faults: {
        throttleRate: 0,
        serverErrorRate: 0,
        throttle: { DescribeInstanceInformation: { ratePerSecond: 0.01, burst: 2 } },
      },
    });
    const call = () => rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {});

    // Act
    const results = [await call(), await call(), await call()];
    const other = await rawCall(server, 'AmazonSSM.ListCommands', {});

    // Assess
    expect(results.map((r) => r.status)).toEqual([200, 200, 400]);
    expect(results[2]?.json).toEqual({ __type: 'ThrottlingException', message: 'Rate exceeded' });
    expect(results[2]?.headers.get('x-amzn-errortype')).toBe('ThrottlingException');
    expect(other.status).toBe(200);
  });

  it('draws random faults from a seeded PRNG, so two servers with the same seed fail the same calls', async () => {
    // Prepare
    const faults = { throttleRate: 0.3, serverErrorRate: 0.2, seed: 42 };
    const a = (await setUp(new ShellFleet([node(ec2Id(1))]), { faults })).server;
    const b = (await setUp(new ShellFleet([node(ec2Id(1))]), { faults })).server;
    const statuses = async (server: AwsServer) => {
      const out: number[] = [];
      for (let i = 0; i < 20; i++) out.push((await rawCall(server, 'AmazonSSM.ListCommands', {})).status);
      return out;
    };

    // Act
    const first = await statuses(a);
    const second = await statuses(b);

    // Assess
    expect(first).toEqual(second);
    expect(new Set(first)).toEqual(new Set([200, 400, 500]));
  });
});
