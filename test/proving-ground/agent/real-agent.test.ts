/**
 * The real Amazon SSM Agent against the scripted model, behaviour by behaviour: the same documents sent
 * to a host run by the real agent (`hostModel: "agent"`) and to a scripted host must end in the same
 * status, response code and output. Where they differed, the model was fixed (each case names the agent
 * source that settles it). Needs the agent's source beside the repository (../shared/vendor): without
 * it these tests say so and skip; in CI they fail instead.
 */
import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { truncateOutput } from '../aws/output.ts';
import { type ProvingGround, startProvingGround } from '../proving-ground.ts';
import { parseScenario } from '../scenario.ts';
import { realAgentGate } from './build.ts';

const missing = realAgentGate();

const HOST = 'i-0a1b2c3d4e5f60a01';
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

function linuxDocument(lines: readonly string[], timeoutSeconds = 60, parameters: object = {}): object {
  return {
    schemaVersion: '2.2',
    description: 'proving ground test document',
    parameters,
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'runScript',
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds: String(timeoutSeconds), runCommand: lines },
      },
    ],
  };
}

const DOCUMENTS = new Map<string, object>([
  // 3,000 characters of stdout and some stderr: the 2,500-character cut of Output.
  ['Test-Long', linuxDocument(["printf 'o%.0s' $(seq 1 3000)", "printf 'e%.0s' $(seq 1 40) >&2"])],
  ['Test-Exit', linuxDocument(["echo 'to stdout'", "echo 'to stderr' >&2", 'exit 3'])],
  // 5 s: the shortest execution timeout the agent applies (below it, it runs with 3,600 s).
  ['Test-Slow', linuxDocument(["echo 'started'", 'sleep 30', "echo 'never'"], 5)],
  ['Test-Sleep', linuxDocument(["echo 'started'", 'sleep 60'], 120)],
  [
    // A pattern Go's regexp refuses (nested repeat counts past 1000); JavaScript's RegExp accepts it.
    'Test-GoPattern',
    linuxDocument(['echo "{{ Msg }}"'], 60, {
      Msg: { type: 'String', default: 'a', allowedPattern: '^(?:a{1,342}){0,49}$' },
    }),
  ],
]);

async function ground(hostModel: 'agent' | 'scripts'): Promise<ProvingGround> {
  const scenario = parseScenario(
    {
      hostModel,
      registrationToken: 'MjAyNzk0MmUtZjQzMS00NDZlLWFkODMtOGU2OWVmMzk3MGQx\n',
      kasm: { heartbeatSeconds: 1 },
      hosts: [{ id: HOST, components: { agent: { token: 'valid' } } }],
    },
    `real agent test (${hostModel})`,
  );
  return startProvingGround(scenario, { extraDocuments: DOCUMENTS });
}

function client(g: ProvingGround): SSMClient {
  return new SSMClient({
    endpoint: g.info.awsEndpoint,
    region: g.info.region,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
  });
}

async function run(
  ssm: SSMClient,
  documentName: string,
  until: (status: string) => boolean = (s) => TERMINAL.has(s),
): Promise<{ commandId: string; invocation: GetCommandInvocationCommandOutput }> {
  const sent = await ssm.send(new SendCommandCommand({ DocumentName: documentName, InstanceIds: [HOST] }));
  const commandId = sent.Command?.CommandId ?? '';
  const deadline = Date.now() + 60_000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    // The invocation's status, not the step's: the agent reports a step only once it has ended.
    const listed = await ssm
      .send(new ListCommandInvocationsCommand({ CommandId: commandId }))
      .catch(() => undefined);
    const status = listed?.CommandInvocations?.[0]?.Status ?? '';
    if (until(status)) {
      const invocation = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: HOST, PluginName: 'runScript' }),
      );
      return { commandId, invocation };
    }
    if (Date.now() > deadline) throw new Error(`${documentName} did not reach the awaited status in 60 s`);
  }
}

async function pluginOutput(ssm: SSMClient, commandId: string): Promise<string> {
  const listed = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }));
  return listed.CommandInvocations?.[0]?.CommandPlugins?.find((p) => p.Name === 'runScript')?.Output ?? '';
}

describe.skipIf(missing !== undefined)(
  `the real SSM Agent beside the scripted model${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    let agent: ProvingGround;
    let scripts: ProvingGround;
    beforeAll(async () => {
      [agent, scripts] = await Promise.all([ground('agent'), ground('scripts')]);
    }, 240_000);
    afterAll(async () => {
      await Promise.all([agent?.stop(), scripts?.stop()]);
    });

    it('checks in with its own version, and its node is listed Online', async () => {
      // Act
      const node = agent.fleet.nodes().find((n) => n.instanceId === HOST);

      // Assess
      expect(node).toMatchObject({ online: true, agentVersion: '3.3.0.0' });
    });

    it('cuts a long Output at 2,500 characters exactly as the model does', async () => {
      // Act
      const real = await run(client(agent), 'Test-Long');
      const model = await run(client(scripts), 'Test-Long');
      const realOutput = await pluginOutput(client(agent), real.commandId);
      const modelOutput = await pluginOutput(client(scripts), model.commandId);

      // Assess
      expect(real.invocation.Status).toBe('Success');
      expect(realOutput.length).toBeLessThanOrEqual(2500);
      expect(realOutput).toBe(modelOutput);
      expect(realOutput).toBe(
        truncateOutput(
          real.invocation.StandardOutputContent ?? '',
          real.invocation.StandardErrorContent ?? '',
        ),
      );
    });

    it('reports a non-zero exit as Failed with its code and the same stdout and stderr as the model', async () => {
      // Act
      const real = await run(client(agent), 'Test-Exit');
      const model = await run(client(scripts), 'Test-Exit');

      // Assess
      const pick = (i: GetCommandInvocationCommandOutput) => ({
        Status: i.Status,
        StatusDetails: i.StatusDetails,
        ResponseCode: i.ResponseCode,
        StandardOutputContent: i.StandardOutputContent,
        StandardErrorContent: i.StandardErrorContent,
      });
      expect(pick(real.invocation)).toEqual(pick(model.invocation));
      expect(real.invocation).toMatchObject({ Status: 'Failed', ResponseCode: 3 });
    });

    it('kills a step that passes its timeoutSeconds and reports it TimedOut / ExecutionTimedOut, as the model does', async () => {
      // Act
      const real = await run(client(agent), 'Test-Slow');
      const model = await run(client(scripts), 'Test-Slow');

      // Assess
      for (const { invocation } of [real, model]) {
        expect(invocation).toMatchObject({ Status: 'TimedOut', StatusDetails: 'ExecutionTimedOut' });
        expect(invocation.StandardOutputContent).toContain('started');
        expect(invocation.StandardOutputContent).not.toContain('never');
      }
      expect(real.invocation.ResponseCode).toBe(model.invocation.ResponseCode);
    }, 90_000);

    it('cancels a running step through the cancel message, ending Cancelled', async () => {
      // Prepare
      const ssm = client(agent);
      const { commandId } = await run(ssm, 'Test-Sleep', (s) => s === 'InProgress');

      // Act
      await ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [HOST] }));
      const ended = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
      const deadline = Date.now() + 30_000;
      let status = ended.CommandInvocations?.[0]?.Status;
      while (status !== 'Cancelled' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const listed = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
        status = listed.CommandInvocations?.[0]?.Status;
      }

      // Assess
      expect(status).toBe('Cancelled');
    }, 90_000);

    it("skips the product probe's Windows step on Linux with the same status and message as the model", async () => {
      // Act
      const send = async (g: ProvingGround) => {
        const ssm = client(g);
        const sent = await ssm.send(
          new SendCommandCommand({ DocumentName: g.info.documents.probe, InstanceIds: [HOST] }),
        );
        const commandId = sent.Command?.CommandId ?? '';
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          const listed = await ssm.send(
            new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }),
          );
          const inv = listed.CommandInvocations?.[0];
          if (inv && TERMINAL.has(inv.Status ?? ''))
            return inv.CommandPlugins?.find((p) => p.Name === 'probeWindows');
        }
      };
      const [real, model] = await Promise.all([send(agent), send(scripts)]);

      // Assess
      expect(real).toMatchObject({ Status: 'Success', ResponseCode: 0 });
      expect({ Status: real?.Status, ResponseCode: real?.ResponseCode, Output: real?.Output }).toEqual({
        Status: model?.Status,
        ResponseCode: model?.ResponseCode,
        Output: model?.Output,
      });
    });

    it('refuses, before any step runs, a document whose allowedPattern Go cannot compile, as the model does', async () => {
      // Act
      const outcome = async (g: ProvingGround) => {
        const { commandId, invocation } = await run(client(g), 'Test-GoPattern');
        const listed = await client(g).send(
          new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }),
        );
        const inv = listed.CommandInvocations?.[0];
        return {
          Status: invocation.Status,
          StatusDetails: invocation.StatusDetails,
          StandardOutputContent: invocation.StandardOutputContent,
          TraceOutput: inv?.TraceOutput,
          plugin: inv?.CommandPlugins?.map((p) => ({ Name: p.Name, Status: p.Status })),
        };
      };
      const [real, model] = await Promise.all([outcome(agent), outcome(scripts)]);

      // Assess
      expect(real).toMatchObject({ Status: 'Failed', StandardOutputContent: '' });
      expect(real.TraceOutput).toContain('invalid repeat count: `{0,49}`');
      expect(model).toEqual(real);
    });

    it('leaves a cancelled command Cancelling while its agent is stopped, as the model does: nobody hears the cancel', async () => {
      // Act
      const cancelWhileStopped = async (g: ProvingGround) => {
        const ssm = client(g);
        const { commandId } = await run(ssm, 'Test-Sleep', (s) => s === 'InProgress');
        g.fleet.dropAgent(HOST);
        await ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [HOST] }));
        await new Promise((resolve) => setTimeout(resolve, 2000));
        const listed = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId }));
        return {
          status: listed.CommandInvocations?.[0]?.Status,
          online: g.fleet.nodes().find((n) => n.instanceId === HOST)?.online,
        };
      };
      const [real, model] = await Promise.all([cancelWhileStopped(agent), cancelWhileStopped(scripts)]);

      // Assess
      expect(real).toEqual({ status: 'Cancelling', online: false });
      expect(model).toEqual(real);
    }, 90_000);
  },
);
