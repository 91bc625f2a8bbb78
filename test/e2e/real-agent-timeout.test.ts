/**
 * A product step that passes its `timeoutSeconds` on a host running the real SSM Agent (`hostModel:
 * "agent"`), beside a host whose Docker only hangs, which the probe's own bound on `docker inspect` ends.
 * The shortest step timeout the product has is the probe's, 120 s (the push's is 1,200 s), and the
 * deployed document is pinned by its hash, so this one run takes over two minutes, and both hosts share
 * it. The scripted model's TimedOut / ExecutionTimedOut is compared with the real agent's, on a 5-second
 * test document, in test/proving-ground/agent/real-agent.test.ts. Without the agent's source this test
 * says so and skips; in CI it fails instead.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBE_TIMEOUT_SECONDS } from '../../shared/documents/ssm-documents.ts';
import { realAgentGate } from '../proving-ground/agent/build.ts';
import {
  awsReplies,
  componentOf,
  ID,
  reconcileOnce,
  sendCommands,
  stateDirEntries,
  withGround,
} from './harness.ts';

const missing = realAgentGate();

interface Listed {
  readonly CommandInvocations?: readonly {
    readonly InstanceId?: string;
    readonly CommandPlugins?: readonly { readonly Output?: string }[];
  }[];
}

interface FullInvocation {
  readonly InstanceId: string;
  readonly Status: string;
  readonly StatusDetails: string;
  readonly ResponseCode: number;
  readonly ExecutionElapsedTime: string;
  readonly StandardOutputContent: string;
}

describe.skipIf(missing !== undefined)(
  `a reconcile run on hosts running the real SSM Agent whose Docker does not answer${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('reports failed a host whose probe the agent kills at its timeoutSeconds, and recovers one whose docker only hangs', async () => {
      await withGround(
        {
          hostModel: 'agent',
          hosts: [
            { id: ID(1), components: { agent: { token: 'expired' } } },
            { id: ID(2), components: { agent: { token: 'expired' } } },
          ],
        },
        async (ground) => {
          // Prepare: host 1's `docker inspect` is stuck where no signal reaches it (uninterruptible sleep on a
          // hung mount), so the probe's own bound cannot end it: the stand-in stops the `timeout` waiting on it.
          // Host 2's Docker daemon is merely wedged: `docker inspect` never returns on its own.
          wedgeDocker(ground, ID(1), 'kill -STOP "$PPID"\nexec sleep 3600');
          wedgeDocker(ground, ID(2), 'exec sleep 3600');

          // Act
          const run = await reconcileOnce(ground);

          // Assess: the agent killed host 1's probe at its timeoutSeconds and said so
          const [probe] = awsReplies<FullInvocation>(ground, 'GetCommandInvocation').map((r) => r.body);
          expect(probe).toMatchObject({
            InstanceId: ID(1),
            Status: 'TimedOut',
            StatusDetails: 'ExecutionTimedOut',
            ResponseCode: 137,
            StandardOutputContent: expect.stringMatching(/^ktr-probe v1\nhost unseal=1 now=\d+\n$/),
          });
          const elapsed = Number(/^PT([\d.]+)S$/.exec(probe?.ExecutionElapsedTime ?? '')?.[1]);
          expect(elapsed).toBeGreaterThanOrEqual(PROBE_TIMEOUT_SECONDS);
          expect(elapsed).toBeLessThan(PROBE_TIMEOUT_SECONDS + 5);
          // Assess: the run took that as the host's answer (no give-up, no cancel), reported the host
          // failed with an incomplete report and left no sealing key on it
          expect(ground.awsCalls().CancelCommand).toBeUndefined();
          const host = run.report.hosts.find((h) => h.instanceId === ID(1));
          expect(host).toMatchObject({
            status: 'failed',
            reason: expect.stringContaining(
              '(the agent stopped the script at its timeout): output is incomplete',
            ),
          });
          expect(componentOf(run, ID(1), 'agent')?.status).toBe('failed');
          expect(run.fleet[ID(1)]?.agent).toMatchObject({ tokenValid: false, registrationFile: 'absent' });
          expect(stateDirEntries(ground, ID(1))).toEqual([]);
          // Assess: host 2's probe answered once its bound on docker ran out (running=unknown), and the
          // host was recovered
          const host2Probe = awsReplies<Listed>(ground, 'ListCommandInvocations')
            .flatMap(({ body }) => body.CommandInvocations ?? [])
            .filter((i) => i.InstanceId === ID(2))
            .flatMap((i) => (i.CommandPlugins ?? []).map((p) => p.Output ?? ''))
            .find((o) => o.startsWith('ktr-probe v1'));
          expect(host2Probe).toMatch(/^comp agent .* running=unknown$/m);
          expect(componentOf(run, ID(2), 'agent')?.status).toBe('recovered');
          expect(sendCommands(ground, 'push').flatMap((c) => c.ids)).toEqual([ID(2)]);
          // Well before the run's own give-up on the probe: pick-up wait (30 s) + 5 s + the step's timeout.
          expect(run.report.durationMs).toBeLessThan((PROBE_TIMEOUT_SECONDS + 20) * 1000);
        },
      );
    }, 180_000);
  },
);

/** Replaces the docker stand-in of a host's real agent with a script whose body is `body`. */
function wedgeDocker(
  ground: Parameters<Parameters<typeof withGround>[1]>[0],
  id: string,
  body: string,
): void {
  const agent = ground.fleet.realAgent(id);
  writeFileSync(join(agent?.standInDir ?? '', 'docker'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
}
