/**
 * A product step that passes its `timeoutSeconds` on a host running the real SSM Agent (`hostModel:
 * "agent"`). The shortest step timeout the product has is the probe's, 120 s (the push's is 1,200 s), and
 * the deployed document is pinned by its hash, so this test takes over two minutes: it has a file of its
 * own, so that it waits beside the other test files instead of after them. The scripted model's
 * TimedOut / ExecutionTimedOut is compared with the real agent's, on a 5-second test document, in
 * test/proving-ground/agent/real-agent.test.ts. Without the agent's source this test says so and skips; in
 * CI it fails instead.
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
  `a reconcile run on hosts running the real SSM Agent, one of whose probes never ends${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('reports failed a host whose probe the agent kills at its timeoutSeconds, and recovers the other host', async () => {
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
          // hung mount), so the probe's own bound cannot end it: the stand-in stops the `timeout` waiting on it
          wedgeDocker(ground, ID(1), 'kill -STOP "$PPID"\nexec sleep 3600');

          // Act
          const run = await reconcileOnce(ground);

          // Assess: the agent killed the probe at its timeoutSeconds and said so
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
          // failed with an incomplete report, left no sealing key on it, and recovered the other host
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
          expect(componentOf(run, ID(2), 'agent')?.status).toBe('recovered');
          expect(sendCommands(ground, 'push').flatMap((c) => c.ids)).toEqual([ID(2)]);
          // Well before the run's own give-up on the probe: pick-up wait (30 s) + 5 s + the step's timeout.
          expect(run.report.durationMs).toBeLessThan((PROBE_TIMEOUT_SECONDS + 20) * 1000);
        },
      );
    }, 180_000);
  },
);

describe.skipIf(missing !== undefined)(
  `a reconcile run on hosts running the real SSM Agent, one of whose Docker daemons never answers${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    it('costs the probe seconds, not its timeout: the component shows running=unknown and is recovered', async () => {
      await withGround(
        { hostModel: 'agent', hosts: [{ id: ID(1), components: { agent: { token: 'expired' } } }] },
        async (ground) => {
          // Prepare: host 1's Docker daemon is wedged: `docker inspect` never returns on its own
          wedgeDocker(ground, ID(1), 'exec sleep 3600');

          // Act
          const run = await reconcileOnce(ground);

          // Assess: the probe answered once its bound on docker ran out, and the run went on
          const outputs = awsReplies<Listed>(ground, 'ListCommandInvocations').flatMap(({ body }) =>
            (body.CommandInvocations ?? []).flatMap((i) =>
              (i.CommandPlugins ?? []).map((p) => p.Output ?? ''),
            ),
          );
          expect(outputs.find((o) => o.startsWith('ktr-probe v1'))).toMatch(
            /^comp agent .* running=unknown$/m,
          );
          expect(componentOf(run, ID(1), 'agent')?.status).toBe('recovered');
          expect(run.report.durationMs).toBeLessThan(PROBE_TIMEOUT_SECONDS * 1000);
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
