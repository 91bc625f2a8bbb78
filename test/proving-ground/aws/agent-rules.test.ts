/**
 * What the real SSM Agent showed the model had wrong, held without the agent: a document whose
 * allowedPattern Go's regexp refuses fails before any step runs, and a stopped agent hears no cancel.
 * agent/real-agent.test.ts compares both with the real agent; these run on every machine, in seconds.
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { StepResult, StepRun } from '../types.ts';
import { DOCUMENTS, ec2Id, node, ShellFleet, ssmServersPerTest, waitFor } from './testkit.ts';

const setUp = ssmServersPerTest();

/** A one-step Linux document echoing `Msg`, whose pattern is `allowedPattern`. */
const echoDocument = (allowedPattern: string): object => ({
  schemaVersion: '2.2',
  description: 'Test document: echoes Msg.',
  parameters: { Msg: { type: 'String', default: 'a', allowedPattern } },
  mainSteps: [
    {
      action: 'aws:runShellScript',
      name: 'runScript',
      precondition: { StringEquals: ['platformType', 'Linux'] },
      inputs: { timeoutSeconds: '30', runCommand: ['echo "msg={{ Msg }}"'] },
    },
  ],
});

/** A ShellFleet that also keeps each step's result, once its process has ended. */
class RecordingFleet extends ShellFleet {
  readonly ended = new Map<string, StepResult>();

  override async runStep(run: StepRun): Promise<StepResult> {
    const result = await super.runStep(run);
    this.ended.set(run.instanceId, result);
    return result;
  }
}

describe("the agent's own allowedPattern check", () => {
  it('fails a document whose allowedPattern Go refuses before any step runs, with the trace text the real agent gave', async () => {
    // Prepare: nested repeat counts past Go's 1000 (JavaScript's RegExp, and so SendCommand, accept it),
    // and beside it a pattern Go compiles.
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const documents = new Map([
      ...DOCUMENTS,
      ['Test-GoRefused', echoDocument('^(?:a{1,342}){0,49}$')],
      ['Test-GoCompiles', echoDocument('^a{1,342}$')],
    ]);
    const { server, ssm } = await setUp(fleet, { documents });
    const send = (DocumentName: string) =>
      ssm.send(
        new SendCommandCommand({ DocumentName, InstanceIds: [ec2Id(1)], Parameters: { Msg: ['aaa'] } }),
      );

    // Act
    const refused = await send('Test-GoRefused');
    await server.idle();
    const ranBefore = fleet.runs.length;
    const compiled = await send('Test-GoCompiles');
    await server.idle();
    const get = (commandId: string | undefined) =>
      ssm.send(
        new GetCommandInvocationCommand({
          CommandId: commandId,
          InstanceId: ec2Id(1),
          PluginName: 'runScript',
        }),
      );
    const refusedOut = await get(refused.Command?.CommandId);
    const compiledOut = await get(compiled.Command?.CommandId);
    const listed = await ssm.send(
      new ListCommandInvocationsCommand({ CommandId: refused.Command?.CommandId, Details: true }),
    );

    // Assess: Failed, nothing ran, no output; the agent's words in the trace output.
    expect(ranBefore).toBe(0);
    expect(refusedOut).toMatchObject({ Status: 'Failed', StandardOutputContent: '' });
    expect(listed.CommandInvocations?.[0]?.Status).toBe('Failed');
    expect(listed.CommandInvocations?.[0]?.TraceOutput).toBe(
      "all errors during param validation errors: error thrown in 'AllowedRegexParamValidator' while validating parameter /Msg/: encountered error while compiling allowed pattern - internal error: error parsing regexp: invalid repeat count: `{0,49}`",
    );
    // The same document with a pattern Go compiles runs its step.
    expect(compiledOut).toMatchObject({ Status: 'Success', StandardOutputContent: 'msg=aaa\n' });
    expect(fleet.runs).toHaveLength(1);
  });
});

describe('an agent that stopped while its step ran', () => {
  it('hears no cancel: its step runs to the end and the invocation stays Cancelling; without a cancel, InProgress', async () => {
    // Prepare: two nodes run a 4 s step; a cancel that is heard ends at once (cancellingMs 0).
    const fleet = new RecordingFleet([node(ec2Id(1)), node(ec2Id(2))]);
    const { ssm } = await setUp(fleet, { cancellingMs: 0 });
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'Test-Noise',
        InstanceIds: [ec2Id(1), ec2Id(2)],
        Parameters: { Sleep: ['4'], Timeout: ['60'] },
      }),
    );
    const commandId = sent.Command?.CommandId;
    const get = (id: string) => () =>
      ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }));
    for (const id of [ec2Id(1), ec2Id(2)]) await waitFor(get(id), (r) => r.Status === 'InProgress', 10_000);

    // Act: both agents stop; node 1's command is cancelled.
    for (const id of [ec2Id(1), ec2Id(2)]) fleet.update(id, { online: false });
    await ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [ec2Id(1)] }));
    await waitFor(
      async () => fleet.ended.size,
      (n) => n === 2,
      10_000,
    );
    // Past the end of both steps: an agent that answered would have reported by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [cancelled, running] = await Promise.all([get(ec2Id(1))(), get(ec2Id(2))()]);

    // Assess: the cancelled step was not killed, and nobody reported either end.
    expect(fleet.ended.get(ec2Id(1))).toMatchObject({ exitCode: 0, timedOut: false });
    expect([cancelled.Status, cancelled.StatusDetails]).toEqual(['Cancelling', 'Cancelling']);
    expect([running.Status, running.StatusDetails]).toEqual(['InProgress', 'InProgress']);
  }, 30_000);
});
