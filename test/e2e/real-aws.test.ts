/**
 * The product against AWS's documented strictness, on the proving ground: hosts that stop
 * mid-run, agents that drop or are too old, throttling, eventual consistency, booting
 * instances and SQS batches with a bad record.
 */
import { describe, expect, it } from 'vitest';
import { AwsError } from '../proving-ground/aws/wire.ts';
import type { ProvingGround } from '../proving-ground/proving-ground.ts';
import { startedRecord } from '../start-events.ts';
import { componentOf, ID, reconcileOnce, sendCommands, statusOf, withGround } from './harness.ts';

const expiredAgents = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: ID(i + 1), components: { agent: { token: 'expired' } } }));

describe('SendCommand refusing a whole batch', () => {
  it('isolates a host that stopped after it was listed, and recovers the others of its batch', async () => {
    let ground: ProvingGround | undefined;
    let stopped = false;
    await withGround(
      { hosts: expiredAgents(3) },
      async (g) => {
        ground = g;
        const run = await reconcileOnce(g);
        for (const n of [1, 3]) expect(statusOf(run, ID(n), 'agent')).toBe('recovered');
        expect(statusOf(run, ID(2), 'agent')).toBe('unreachable');
        expect(componentOf(run, ID(2), 'agent')?.reason).toContain('InvalidInstanceId');
        const refused = g.aws.calls.filter(
          (c) => c.operation === 'SendCommand' && c.errorType === 'InvalidInstanceId',
        );
        expect(refused.length).toBeGreaterThan(0);
      },
      {
        // The instance stops between the listing and the first SendCommand.
        beforeOperation: (operation) => {
          if (operation === 'SendCommand' && !stopped && ground) {
            stopped = true;
            ground.fleet.setState(ID(2), 'stopped');
          }
        },
      },
    );
  });
});

describe('a lost agent', () => {
  it('gives up on a host whose agent stopped answering, cancels its command and recovers the rest', async () => {
    let ground: ProvingGround | undefined;
    let dropped = false;
    await withGround(
      { hosts: expiredAgents(2) },
      async (g) => {
        ground = g;
        const run = await reconcileOnce(g, {}, { env: { PICKUP_WAIT_SECONDS: '5' } });
        expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
        expect(statusOf(run, ID(2), 'agent')).toBe('unreachable');
        expect(componentOf(run, ID(2), 'agent')?.reason).toMatch(/did not start the command within \d+ s/);
        const cancels = g.aws.calls.filter((c) => c.operation === 'CancelCommand' && c.status === 200);
        expect(cancels.map((c) => (c.params as { InstanceIds: string[] }).InstanceIds)).toEqual([[ID(2)]]);
      },
      {
        // The agent drops after the listing: SSM accepts the command and leaves it Pending.
        beforeOperation: (operation) => {
          if (operation === 'SendCommand' && !dropped && ground) {
            dropped = true;
            ground.fleet.setOnline(ID(2), false);
          }
        },
      },
    );
  });
});

describe('a role without ssm:ListCommandInvocations', () => {
  it('fails its hosts with the reason at the first refused read, instead of waiting for them to time out', async () => {
    const denied =
      'User: arn:aws:sts::123456789012:assumed-role/ktr/fn is not authorized to perform: ssm:ListCommandInvocations';
    await withGround(
      { hosts: expiredAgents(2) },
      async (g) => {
        const started = Date.now();
        const run = await reconcileOnce(g);
        for (const n of [1, 2]) {
          expect(componentOf(run, ID(n), 'agent')).toMatchObject({
            status: 'failed',
            reason: `probe: reading the command results failed: AccessDeniedException: ${denied}`,
          });
        }
        // Read once per command and given up on: the probe's own give-up is minutes away.
        const reads = g.aws.calls.filter((c) => c.operation === 'ListCommandInvocations');
        expect(reads.map((c) => c.errorType)).toStrictEqual(['AccessDeniedException']);
        expect(Date.now() - started).toBeLessThan(60_000);
      },
      {
        // What IAM answers for an action the role's policy does not allow (HTTP 400).
        beforeOperation: (operation) => {
          if (operation === 'ListCommandInvocations')
            throw new AwsError('AccessDeniedException', 400, denied);
        },
      },
    );
  });
});

describe('an SSM Agent older than 3.3.2746.0', () => {
  it('is reconciled like a current one through the spliced parameters, and the report names its version', async () => {
    await withGround(
      {
        hosts: [
          { id: ID(1), agentVersion: '3.2.582.0', components: { agent: { token: 'expired' } } },
          { id: ID(2), components: { agent: { token: 'expired' } } },
        ],
      },
      async (ground) => {
        // Act
        const run = await reconcileOnce(ground);

        // Assess
        expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
        expect(statusOf(run, ID(2), 'agent')).toBe('recovered');
        expect(run.fleet[ID(1)]?.agent).toMatchObject({ tokenValid: true, registrationFile: 'absent' });
        const old = run.report.hosts.find((h) => h.instanceId === ID(1));
        const current = run.report.hosts.find((h) => h.instanceId === ID(2));
        expect(old).toMatchObject({ agentVersion: '3.2.582.0' });
        expect(current).not.toHaveProperty('agentVersion');
        const pushed = sendCommands(ground, 'push').flatMap((s) => s.ids);
        expect(pushed).toContain(ID(1));
      },
    );
  });
});

describe('a tight rate limit shared with the rest of the account', () => {
  it('finishes the run with every host recovered although SSM throttles it', async () => {
    await withGround(
      {
        hosts: expiredAgents(4),
        faults: {
          throttle: {
            SendCommand: { ratePerSecond: 0.5, burst: 1 },
            ListCommands: { ratePerSecond: 0.5, burst: 1 },
            ListCommandInvocations: { ratePerSecond: 0.5, burst: 1 },
            DescribeInstanceInformation: { ratePerSecond: 0.5, burst: 1 },
          },
        },
      },
      async (ground) => {
        const run = await reconcileOnce(ground, {}, { env: { API_CALLS_PER_SECOND: '5', API_BURST: '5' } });
        for (let n = 1; n <= 4; n++) expect(statusOf(run, ID(n), 'agent')).toBe('recovered');
        const throttled = ground.aws.calls.filter((c) => c.errorType === 'ThrottlingException');
        expect(throttled.length).toBeGreaterThan(0);
        expect(run.report.errors).toEqual([]);
      },
    );
  }, 240_000);
});

describe('the documents the stack deployed', () => {
  it('runs version 1 of each document, never whatever $DEFAULT points at', async () => {
    await withGround({ hosts: expiredAgents(1) }, async (ground) => {
      await reconcileOnce(ground);
      const versions = ground.aws.calls
        .filter((c) => c.operation === 'SendCommand' && c.status === 200)
        .map((c) => (c.params as { DocumentVersion?: string }).DocumentVersion);
      // The probe and the push (the host made its key while probed).
      expect(versions).toEqual(['1', '1']);
    });
  });

  it('tells the push the moment after which it must not act, a little after the run stops waiting for it', async () => {
    await withGround({ hosts: expiredAgents(1) }, async (ground) => {
      const before = Math.floor(Date.now() / 1000);
      await reconcileOnce(ground);
      const [push] = sendCommands(ground, 'push');
      const notAfter = Number(push?.params.NotAfter?.[0]);
      const wait = Number(push?.params.WaitSeconds?.[0]);
      // Pick-up wait (30 s by default) plus the push's own wait on the host.
      expect(notAfter).toBeGreaterThanOrEqual(before + 30 + wait);
      expect(notAfter).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 30 + wait);
    });
  });
});

describe('an instance-start run', () => {
  it('waits for a booting fleet instance to check in and recovers it, spending nothing on a non-fleet one', async () => {
    await withGround(
      {
        hosts: [
          { id: ID(1), startsAfterSeconds: 2, components: { agent: { token: 'expired' } } },
          { id: ID(2), managed: false, startsAfterSeconds: 2, components: { agent: { token: 'expired' } } },
        ],
      },
      async (ground) => {
        // Booting takes 2 s plus the agent's check-in: the run may wait up to 30 s for it.
        const run = await reconcileOnce(
          ground,
          { Records: [startedRecord(ID(1)), startedRecord(ID(2))] },
          { env: { ONLINE_WAIT_SECONDS: '30' } },
        );
        expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
        expect(run.report.hosts.map((h) => h.instanceId)).toEqual([ID(1)]);
        expect(run.report.errors).toEqual([]);
        const asked = ground.aws.calls.filter((c) => c.operation === 'DescribeTags');
        expect(asked).toHaveLength(1);
        // While it waited, it asked SSM about the started fleet instance alone, never the whole fleet.
        const listings = ground.aws.calls.filter((c) => c.operation === 'DescribeInstanceInformation');
        expect(listings.length).toBeGreaterThan(1);
        for (const c of listings) {
          expect((c.params as { Filters?: unknown }).Filters).toEqual([
            { Key: 'InstanceIds', Values: [ID(1)] },
          ]);
        }
      },
    );
  });

  it('sets aside a record that is not a running-state notification and reconciles the others', async () => {
    await withGround({ hosts: expiredAgents(1) }, async (ground) => {
      const bad = { messageId: 'm-bad', eventSource: 'aws:sqs', body: '{"detail-type":"something else"}' };
      const run = await reconcileOnce(ground, { Records: [startedRecord(ID(1), 'm-good'), bad] });
      expect(statusOf(run, ID(1), 'agent')).toBe('recovered');
      expect((run.report as { batchItemFailures?: unknown }).batchItemFailures).toEqual([
        { itemIdentifier: 'm-bad' },
      ]);
      expect(run.report.errors.join(' ')).toContain('m-bad');
    });
  });
});
