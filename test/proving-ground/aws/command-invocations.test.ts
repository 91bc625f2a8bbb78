import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  paginateListCommandInvocations,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { SimulatedNode, StepResult, StepRun } from '../types.ts';
import type { AwsServer } from './server.ts';
import { ec2Id, node, rejection, ShellFleet, serversPerTest, ssmClient } from './testkit.ts';

const startServer = serversPerTest();

async function setUp(fleet: ShellFleet, deliveryDelayMs = 0): Promise<{ server: AwsServer; ssm: SSMClient }> {
  const server = await startServer(fleet, { deliveryDelayMs });
  return { server, ssm: ssmClient(server) };
}

async function noise(ssm: SSMClient, instanceIds: string[], out: number, err: number): Promise<string> {
  const sent = await ssm.send(
    new SendCommandCommand({
      DocumentName: 'Test-Noise',
      InstanceIds: instanceIds,
      Parameters: { Out: [String(out)], Err: [String(err)] },
    }),
  );
  return sent.Command?.CommandId ?? '';
}

describe('ListCommandInvocations and GetCommandInvocation', () => {
  it('cuts the Details Output to 2,500 characters the way the agent does, ERROR title and markers included', async () => {
    // Prepare
    const { server, ssm } = await setUp(new ShellFleet([node(ec2Id(1))]));
    const commandId = await noise(ssm, [ec2Id(1)], 3000, 40);
    await server.idle();

    // Act
    const listed = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }));
    const plain = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));

    // Assess
    const plugin = listed.CommandInvocations?.[0]?.CommandPlugins?.[0];
    expect(plugin).toMatchObject({
      Name: 'noise',
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
    });
    expect(plugin?.Output).toHaveLength(2500);
    expect(plugin?.Output).toBe(
      `${'o'.repeat(2500 - 23 - 24 - 40)}\n---Output truncated---\n----------ERROR-------\n${'e'.repeat(40)}`,
    );
    expect(plugin?.ResponseStartDateTime).toBeInstanceOf(Date);
    expect(plugin?.ResponseFinishDateTime).toBeInstanceOf(Date);
    expect(plain.CommandInvocations?.[0]?.CommandPlugins).toEqual([]);
  });

  it('cuts GetCommandInvocation stdout at 24,000 and stderr at 8,000 characters', async () => {
    // Prepare
    const { server, ssm } = await setUp(new ShellFleet([node(ec2Id(1))]));
    const big = await noise(ssm, [ec2Id(1)], 30000, 9000);
    const small = await noise(ssm, [ec2Id(1)], 100, 7);
    await server.idle();

    // Act
    const cut = await ssm.send(new GetCommandInvocationCommand({ CommandId: big, InstanceId: ec2Id(1) }));
    const whole = await ssm.send(new GetCommandInvocationCommand({ CommandId: small, InstanceId: ec2Id(1) }));

    // Assess
    expect(cut.StandardOutputContent).toHaveLength(24000);
    expect(cut.StandardOutputContent?.endsWith('o--output truncated--')).toBe(true);
    expect(cut.StandardErrorContent).toHaveLength(8000);
    expect(cut.StandardErrorContent?.endsWith('e--output truncated--')).toBe(true);
    expect(whole.StandardOutputContent).toBe('o'.repeat(100));
    expect(whole.StandardErrorContent).toBe('e'.repeat(7));
    expect(whole.PluginName).toBe('noise');
    expect(whole.ExecutionElapsedTime).toMatch(/^PT\d+\.\d{3}S$/);
  });

  it('pages invocations with MaxResults and NextToken and rejects MaxResults outside 1 to 50', async () => {
    // Prepare
    const ids = Array.from({ length: 7 }, (_, i) => ec2Id(i + 1));
    const { server, ssm } = await setUp(new ShellFleet(ids.map((id) => node(id))));
    const commandId = await noise(ssm, ids, 1, 0);
    await server.idle();

    // Act
    const pages: string[][] = [];
    for await (const page of paginateListCommandInvocations(
      { client: ssm, pageSize: 3 },
      { CommandId: commandId },
    )) {
      pages.push((page.CommandInvocations ?? []).map((i) => i.InstanceId ?? ''));
    }
    const tooMany = await rejection(
      ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, MaxResults: 51 })),
    );
    const tooFew = await rejection(
      ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, MaxResults: 0 })),
    );

    // Assess
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(pages.flat()).toEqual(ids);
    expect(tooMany.name).toBe('ValidationException');
    expect(tooFew.name).toBe('ValidationException');
  });

  it('shows an invocation Pending, then InProgress while its step runs, then Success', async () => {
    // Prepare
    let release: (r: StepResult) => void = () => undefined;
    const gate = new Promise<StepResult>((resolve) => {
      release = resolve;
    });
    const entered: StepRun[] = [];
    const fleet = new ShellFleet([node(ec2Id(1))]);
    fleet.runStep = (run: StepRun) => {
      entered.push(run);
      return gate;
    };
    const { server, ssm } = await setUp(fleet, 300);
    const commandId = await noise(ssm, [ec2Id(1)], 0, 0);
    const status = async () =>
      (await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: ec2Id(1) })))
        .Status;

    // Act
    const first = await status();
    while (entered.length === 0) await new Promise((r) => setTimeout(r, 5));
    const running = await status();
    release({ exitCode: 0, stdout: 'done\n', stderr: '', timedOut: false });
    await server.idle();
    const last = await status();

    // Assess
    expect(first).toBe('Pending');
    expect(running).toBe('InProgress');
    expect(last).toBe('Success');
  });

  it('answers InvocationDoesNotExist for an unknown command or a node outside the command, and InvalidPluginName for an unknown step', async () => {
    // Prepare
    const nodes: SimulatedNode[] = [node(ec2Id(1)), node(ec2Id(2))];
    const { server, ssm } = await setUp(new ShellFleet(nodes));
    const commandId = await noise(ssm, [ec2Id(1)], 1, 0);
    await server.idle();

    // Act
    const unknownCommand = await rejection(
      ssm.send(
        new GetCommandInvocationCommand({
          CommandId: '00000000-0000-4000-8000-000000000000',
          InstanceId: ec2Id(1),
        }),
      ),
    );
    const otherNode = await rejection(
      ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: ec2Id(2) })),
    );
    const badPlugin = await rejection(
      ssm.send(
        new GetCommandInvocationCommand({
          CommandId: commandId,
          InstanceId: ec2Id(1),
          PluginName: 'nope-step',
        }),
      ),
    );
    const emptyList = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: '00000000-0000-4000-8000-000000000000' }),
    );

    // Assess
    expect(unknownCommand.name).toBe('InvocationDoesNotExist');
    expect(otherNode.name).toBe('InvocationDoesNotExist');
    expect(badPlugin.name).toBe('InvalidPluginName');
    expect(emptyList.CommandInvocations).toEqual([]);
  });
});
