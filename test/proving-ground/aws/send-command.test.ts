import { createHash } from 'node:crypto';
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { AwsServer } from './server.ts';
import {
  DELIVER_DOC,
  DOCUMENTS,
  ec2Id,
  hybridId,
  node,
  rejection,
  ShellFleet,
  serversPerTest,
  ssmClient,
  waitFor,
} from './testkit.ts';

const TOKEN = 'c2VhbGVkLXJlZ2lzdHJhdGlvbi10b2tlbg=='; // what the product sends: sealed, base64

const startServer = serversPerTest();

async function setUp(fleet: ShellFleet): Promise<{ server: AwsServer; ssm: SSMClient }> {
  const server = await startServer(fleet);
  return { server, ssm: ssmClient(server) };
}

describe('SendCommand validation', () => {
  it('rejects 51 instance ids with the ValidationException AWS returns for the 50-member limit', async () => {
    // Prepare
    const ids = Array.from({ length: 51 }, (_, i) => ec2Id(i + 1));
    const fleet = new ShellFleet(ids.map((id) => node(id)));
    const { server, ssm } = await setUp(fleet);

    // Act
    const error = await rejection(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Test-Deliver',
          InstanceIds: ids,
          Parameters: { Token: [TOKEN] },
        }),
      ),
    );
    const fifty = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Deliver',
        InstanceIds: ids.slice(0, 50),
        Parameters: { Token: [TOKEN] },
      }),
    );
    await server.idle();

    // Assess
    expect(error.name).toBe('ValidationException');
    expect(error.message).toMatch(
      /^1 validation error detected: Value '\[i-0+1, .*\]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50$/,
    );
    expect(fifty.Command?.InstanceIds).toHaveLength(50);
    expect(fleet.runs).toHaveLength(50);
  });

  it('rejects an unknown document with InvalidDocument and runs nothing', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const error = await rejection(
      ssm.send(new SendCommandCommand({ DocumentName: 'No-Such-Doc', InstanceIds: [ec2Id(1)] })),
    );
    await server.idle();

    // Assess
    expect(error.name).toBe('InvalidDocument');
    expect(fleet.runs).toHaveLength(0);
    expect(server.calls[0]).toMatchObject({
      operation: 'SendCommand',
      status: 400,
      errorType: 'InvalidDocument',
    });
  });

  it('runs a document only when DocumentHash is the SHA-256 of its content exactly as created, else InvalidDocument', async () => {
    // Prepare: the deliver document created from indented JSON text (the hash is of that text)
    const text = JSON.stringify(DELIVER_DOC, null, 2);
    const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const server = await startServer(fleet, {
      documents: new Map<string, object | string>([...DOCUMENTS, ['Test-Pinned', text]]),
    });
    const ssm = ssmClient(server);
    const send = (DocumentHash: string, DocumentHashType?: 'Sha256' | 'Sha1') =>
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Test-Pinned',
          InstanceIds: [ec2Id(1)],
          Parameters: { Token: [TOKEN] },
          DocumentHash,
          ...(DocumentHashType ? { DocumentHashType } : {}),
        }),
      );

    // Act
    const pinned = await send(sha256(text), 'Sha256');
    const untyped = await send(sha256(text));
    const sameJsonOtherText = await rejection(send(sha256(JSON.stringify(DELIVER_DOC)), 'Sha256'));
    const otherDocument = await rejection(
      send(sha256(JSON.stringify(DOCUMENTS.get('Test-Noise'))), 'Sha256'),
    );
    const sha1AsSha256 = await rejection(send(createHash('sha1').update(text).digest('hex'), 'Sha256'));
    await server.idle();

    // Assess
    expect(pinned.Command?.CommandId).toBeDefined();
    expect(untyped.Command?.CommandId).toBeDefined();
    for (const error of [sameJsonOtherText, otherDocument, sha1AsSha256]) {
      expect(error.name).toBe('InvalidDocument');
      expect(error.message).toContain('Test-Pinned');
    }
    expect(fleet.runs).toHaveLength(2);
    expect(server.calls.map((c) => c.status)).toStrictEqual([200, 200, 400, 400, 400]);
  });

  it('rejects a value that misses the allowedPattern with InvalidParameters and never echoes the value', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { server, ssm } = await setUp(fleet);
    const bad = 'not base64; rm -rf /';

    // Act
    const error = await rejection(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Test-Deliver',
          InstanceIds: [ec2Id(1)],
          Parameters: { Token: [bad] },
        }),
      ),
    );
    await server.idle();

    // Assess
    expect(error.name).toBe('InvalidParameters');
    expect(error.message).toContain('Token');
    expect(error.message).toContain('^[A-Za-z0-9+/=]{8,}$');
    expect(error.message).not.toContain(bad);
    expect(fleet.runs).toHaveLength(0);
  });

  it('rejects an undeclared parameter, a missing required one and a value outside allowedValues', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { ssm } = await setUp(fleet);
    const send = (Parameters: Record<string, string[]>) =>
      rejection(
        ssm.send(
          new SendCommandCommand({ DocumentName: 'Test-Deliver', InstanceIds: [ec2Id(1)], Parameters }),
        ),
      );

    // Act
    const undeclared = await send({ Token: [TOKEN], Colour: ['blue'] });
    const missing = await send({ Mode: ['push'] });
    const notAllowed = await send({ Token: [TOKEN], Mode: ['delete'] });

    // Assess
    expect([undeclared.name, missing.name, notAllowed.name]).toEqual([
      'InvalidParameters',
      'InvalidParameters',
      'InvalidParameters',
    ]);
    expect(undeclared.message).toContain('Colour');
    expect(missing.message).toContain('Token');
    expect(notAllowed.message).toContain('Mode');
  });

  it('rejects an instance id that is not a managed node with InvalidInstanceId, and a malformed one as invalid input', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { ssm } = await setUp(fleet);

    // Act
    const unknown = await rejection(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Test-Deliver',
          InstanceIds: [ec2Id(2)],
          Parameters: { Token: [TOKEN] },
        }),
      ),
    );
    const malformed = await rejection(
      ssm.send(
        new SendCommandCommand({
          DocumentName: 'Test-Deliver',
          InstanceIds: ['i-xyz'],
          Parameters: { Token: [TOKEN] },
        }),
      ),
    );

    // Assess
    expect(unknown.name).toBe('InvalidInstanceId');
    expect(malformed.name).toBe('ValidationException');
    expect(malformed.message).toContain("at 'instanceIds.1.member'");
    expect(fleet.runs).toHaveLength(0);
  });
});

describe('SendCommand execution', () => {
  it('returns a Pending command and hands ENV_VAR parameters to the script as SSM_<name>', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Deliver',
        InstanceIds: [ec2Id(1)],
        Parameters: { Token: [TOKEN], Mode: ['push'] },
        Comment: 'proving ground',
      }),
    );
    await server.idle();
    const result = await ssm.send(
      new GetCommandInvocationCommand({
        CommandId: sent.Command?.CommandId,
        InstanceId: ec2Id(1),
        PluginName: 'deliverLinux',
      }),
    );

    // Assess
    expect(sent.Command).toMatchObject({
      DocumentName: 'Test-Deliver',
      InstanceIds: [ec2Id(1)],
      Status: 'Pending',
      Comment: 'proving ground',
      Parameters: { Token: [TOKEN], Mode: ['push'] },
    });
    expect(sent.Command?.CommandId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.Command?.RequestedDateTime).toBeInstanceOf(Date);
    expect(fleet.runs).toHaveLength(1);
    expect(fleet.runs[0]?.env).toEqual({
      AWS_SSM_INSTANCE_ID: ec2Id(1),
      AWS_SSM_REGION_NAME: 'eu-west-1',
      AWS_SSM_PLATFORM_NAME: 'Ubuntu',
      AWS_SSM_PLATFORM_VERSION: '22.04',
      SSM_COMMAND_ID: sent.Command?.CommandId,
      SSM_Token: TOKEN,
    });
    expect(fleet.runs[0]?.action).toBe('aws:runShellScript');
    expect(fleet.runs[0]?.timeoutSeconds).toBe(30);
    // The script keeps $SSM_Token as text; only the non-ENV_VAR {{ Mode }} placeholder is substituted.
    expect(fleet.runs[0]?.script).toBe(
      'echo "instance=$AWS_SSM_INSTANCE_ID region=$AWS_SSM_REGION_NAME"\necho "token=$SSM_Token mode=push"',
    );
    expect(result).toMatchObject({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      StandardOutputContent: `instance=${ec2Id(1)} region=eu-west-1\ntoken=${TOKEN} mode=push\n`,
      StandardErrorContent: '',
    });
  });

  it('runs only the step whose precondition matches the platform and reports the other one as a skipped success', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1)), node(ec2Id(2), { platform: 'Windows' })]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Deliver',
        InstanceIds: [ec2Id(1), ec2Id(2)],
        Parameters: { Token: [TOKEN] },
      }),
    );
    await server.idle();
    const listed = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: sent.Command?.CommandId, Details: true }),
    );

    // Assess
    expect(fleet.runs.map((r) => [r.instanceId, r.action])).toEqual([
      [ec2Id(1), 'aws:runShellScript'],
      [ec2Id(2), 'aws:runPowerShellScript'],
    ]);
    const linux = listed.CommandInvocations?.find((i) => i.InstanceId === ec2Id(1));
    expect(linux?.Status).toBe('Success');
    expect(linux?.CommandPlugins?.map((p) => [p.Name, p.Status])).toEqual([
      ['deliverLinux', 'Success'],
      ['deliverWindows', 'Success'],
    ]);
    expect(linux?.CommandPlugins?.[1]?.Output).toBe(
      `Step execution skipped due to unsatisfied preconditions: '"StringEquals": [platformType, Windows]'. Step name: deliverWindows`,
    );
  });

  it('keeps a command to a ConnectionLost node Pending until delivery plus execution timeout, then TimedOut/DeliveryTimedOut, and never runs it', async () => {
    // Prepare
    const fleet = new ShellFleet([node(hybridId(1), { online: false }), node(ec2Id(2))]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Noise',
        InstanceIds: [hybridId(1), ec2Id(2)],
        Parameters: { Timeout: ['5'] },
        TimeoutSeconds: 30,
      }),
    );
    const commandId = sent.Command?.CommandId;
    const get = () =>
      ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: hybridId(1) }));
    const before = await get();
    const after = await waitFor(get, (r) => r.Status !== 'Pending', 45_000);
    const waitedMs = Date.now() - (sent.Command?.RequestedDateTime?.getTime() ?? 0);
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: commandId }));
    await server.idle();

    // Assess
    expect(before.Status).toBe('Pending');
    expect(after).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'DeliveryTimedOut',
      ResponseCode: -1,
      StandardOutputContent: '',
      ExecutionStartDateTime: '',
    });
    expect(waitedMs).toBeGreaterThanOrEqual(35_000 - 1000); // 30 s delivery + 5 s execution timeout (the agent's minimum)
    expect(listed.Commands?.[0]).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Incomplete',
      TargetCount: 2,
      CompletedCount: 2,
      ErrorCount: 0,
      DeliveryTimedOutCount: 1,
    });
    expect(fleet.runs.map((r) => r.instanceId)).toEqual([ec2Id(2)]);
  }, 60_000);

  it("reports a non-zero exit as Failed with the exit code and the agent's own error line, and a step past its timeout as TimedOut", async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1)), node(ec2Id(2))]);
    const { server, ssm } = await setUp(fleet);

    // Act
    const failing = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Noise',
        InstanceIds: [ec2Id(1)],
        Parameters: { Exit: ['3'], Err: ['5'] },
      }),
    );
    const slow = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Noise',
        InstanceIds: [ec2Id(2)],
        Parameters: { Sleep: ['9'], Timeout: ['5'] },
      }),
    );
    await server.idle();
    const failed = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: failing.Command?.CommandId, InstanceId: ec2Id(1) }),
    );
    const timedOut = await ssm.send(
      new GetCommandInvocationCommand({ CommandId: slow.Command?.CommandId, InstanceId: ec2Id(2) }),
    );

    // Assess
    expect(failed).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 3,
      // The agent appends this line to a failed script's stderr (agent/plugins/runscript/runscript.go),
      // as the real agent did on the proving ground.
      StandardErrorContent: 'eeeeefailed to run commands: exit status 3',
    });
    expect(timedOut).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
    expect(fleet.runs[1]?.timeoutSeconds).toBe(5);
  });
});
