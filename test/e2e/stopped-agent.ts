/**
 * One scenario for every host model: a host's SSM Agent is stopped while the product's push runs on it.
 * The agent never replies again, so the invocation stays InProgress; the run gives up on it at the end of
 * the push's allowance (pick-up + wait + execution), cancels it, and must then finish at once, although
 * nobody hears the cancel and the invocation stays Cancelling ("Understanding command statuses",
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html). The scripted
 * model runs it in cancelling.test.ts, the real SSM Agent in real-agent.test.ts: both must match these
 * expectations.
 */
import { existsSync } from 'node:fs';
import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { expect } from 'vitest';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import { componentOf, ID, type Run, reconcileOnce, until, withGround } from './harness.ts';

/** A short pick-up wait and wait on the host, so the run gives up on the stopped host within half a minute. */
const SETTINGS = { PICKUP_WAIT_SECONDS: '3', CONFIRM_WAIT_SECONDS: '4' };
/** Push allowance past SendCommand: pick-up + wait (pick-up by), then wait + 15 s overhead (lambda/steps/deliver.ts). */
const GIVE_UP_AFTER_SEND_MS = (3 + 4 + 4 + 15) * 1000;

export interface StoppedAgentRun {
  readonly ground: ProvingGround;
  readonly run: Run;
  /** The push command's id. */
  readonly pushCommandId: string;
}

/**
 * Runs the product once on two locked-out hosts and stops the first one's agent as soon as its push has
 * written the registration file (that host's component is stopped, so the push then waits on the host for
 * it), asserts what every host model must show, then hands the ground to `also` for the model's own checks.
 */
export async function expectRunPastAgentStoppedMidPush(
  hostModel: 'scripts' | 'agent',
  also: (observed: StoppedAgentRun) => Promise<void> | void = () => undefined,
): Promise<void> {
  await withGround(
    {
      hostModel,
      hosts: [
        { id: ID(1), components: { agent: { token: 'expired', running: false } } },
        { id: ID(2), components: { agent: { token: 'expired' } } },
      ],
    },
    async (ground) => {
      // Prepare: stop host 1's agent once the push has written its file, while the push waits on the host
      const file = ground.fleet.registrationFilePath(ID(1), 'agent');
      let stoppedAt = 0;
      const stopper = until(() => existsSync(file), 60_000).then(() => {
        stoppedAt = Date.now();
        ground.fleet.dropAgent(ID(1));
      });
      stopper.catch(() => undefined); // awaited below; a run that throws first is the failure to report

      // Act
      const run = await reconcileOnce(ground, {}, { env: SETTINGS });
      const endedAt = Date.parse(run.report.startedAt) + run.report.durationMs;
      await stopper;

      // Assess: the stopped host is reported failed for what it is, its neighbour recovered
      expect(componentOf(run, ID(1), 'agent')).toMatchObject({
        status: 'failed',
        reason: expect.stringContaining('the push had not finished on the host'),
      });
      expect(componentOf(run, ID(2), 'agent')?.status).toBe('recovered');
      expect(run.report.errors).toEqual([]);
      expect(ground.fleet.nodes().find((n) => n.instanceId === ID(1))?.online).toBe(false);
      // The push had written the file before the agent stopped: it is left waiting for the component.
      expect(run.fleet[ID(1)]?.agent).toMatchObject({
        registrationFile: 'present',
        registrationFileMode: '0600',
      });

      // Assess: the run gave up on host 1 at the end of the push's allowance, cancelled it once, and did
      // not wait for the cancel, which nobody hears: the invocation is still Cancelling after the run
      const push = ground.aws.calls.find(
        (c) =>
          c.operation === 'SendCommand' &&
          c.status === 200 &&
          (c.params as { DocumentName?: string }).DocumentName === ground.info.documents.push,
      );
      const pushCommandId = (JSON.parse(push?.responseBody ?? '{}') as { Command?: { CommandId?: string } })
        .Command?.CommandId;
      const cancels = ground.aws.calls.filter((c) => c.operation === 'CancelCommand');
      expect(cancels.map((c) => c.params)).toEqual([{ CommandId: pushCommandId, InstanceIds: [ID(1)] }]);
      const cancelledAt = Date.parse(cancels[0]?.at ?? '');
      expect(stoppedAt).toBeLessThan(cancelledAt);
      expect(cancelledAt - Date.parse(push?.at ?? '')).toBeGreaterThanOrEqual(GIVE_UP_AFTER_SEND_MS - 1000);
      expect(endedAt - cancelledAt).toBeLessThan(5000);
      const ssm = new SSMClient({
        endpoint: ground.info.awsEndpoint,
        region: ground.info.region,
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' },
      });
      const stopped = await ssm.send(
        new GetCommandInvocationCommand({ CommandId: pushCommandId, InstanceId: ID(1) }),
      );
      expect(stopped.Status).toBe('Cancelling');

      await also({ ground, run, pushCommandId: pushCommandId ?? '' });
    },
  );
}
