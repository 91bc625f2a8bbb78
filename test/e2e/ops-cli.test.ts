/**
 * `npm run ops`, run as an operator runs it, against the proving ground: Lambda Invoke runs
 * the real handler, and `last-run` reads back what that handler logged.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LOG_GROUP_NAME, type ProvingGround } from '../proving-ground/proving-ground.ts';
import { ID, TOKEN, withGround } from './harness.ts';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI as a child process (asynchronously: the proving ground answers in this process). */
async function ops(ground: ProvingGround, args: string[]): Promise<Ran> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, ['infra/ops/cli.ts', ...args], {
      cwd: ROOT,
      timeout: 90_000,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        AWS_ENDPOINT_URL: ground.info.awsEndpoint,
        AWS_REGION: ground.info.region,
        AWS_ACCESS_KEY_ID: 'AKIDOPERATOR',
        AWS_SECRET_ACCESS_KEY: 'operator-secret-key',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const FLEET = {
  hosts: [
    { id: ID(1), components: { agent: { token: 'expired' }, guac: { token: 'valid' } } },
    { id: ID(2), components: { agent: { token: 'missing' } } },
  ],
};

function expectNoToken(ran: Ran): void {
  expect(`${ran.stdout}${ran.stderr}`).not.toContain(TOKEN);
}

describe('npm run ops -- invoke', () => {
  it('runs a dry run of the environment function and prints the summary, the before/after table and what needs a person', async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await ops(ground, ['invoke', '--env', 'local', '--dry-run']);

      // Assess: the run did its job, and a component needs a person (exit 3)
      expect(ran.code).toBe(3);
      const lines = ran.stdout.split('\n');
      expect(lines[0]).toBe(`Dry run: 1 healthy, 1 would get a token, 1 needs a redeploy (${ID(2)}/agent)`);
      expect(lines[2]).toMatch(/^host\s+component\s+before\s+after\s+token now$/);
      expect(ran.stdout).toMatch(
        new RegExp(`${ID(1)}\\s+agent\\s+LOCKED OUT \\(past grace\\)\\s+would-push`),
      );
      expect(ran.stdout).toMatch(new RegExp(`${ID(2)}\\s+agent\\s+no token in config\\s+needs-redeploy`));
      expect(ran.stdout).toMatch(
        new RegExp(
          `\\n  ${ID(2)}/agent \\(needs-redeploy: [^)]+\\): redeploy the component from the Kasm admin UI\\n`,
        ),
      );
      // Not a terminal: plain lines while it waits (progress as it changes), no carriage returns.
      expect(ran.stderr).toMatch(/^KasmTokenReconciler-local: dry run in progress…\n/);
      expect(ran.stderr).not.toContain('\r');
      expect(ground.fleetState()[ID(1)]?.agent?.tokenValid).toBe(false);
      expect(ground.aws.calls.filter((c) => c.operation === 'Invoke').map((c) => c.params)).toStrictEqual([
        '{"dryRun":true}',
      ]);
      expectNoToken(ran);
    });
  });

  it('recovers the fleet, prints the report as JSON with summary first, and exits 3 for the component left to a person', async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await ops(ground, ['invoke', '--env', 'local', '--json']);

      // Assess
      expect(ran.code).toBe(3);
      const report = JSON.parse(ran.stdout) as Record<string, unknown>;
      expect(Object.keys(report)[0]).toBe('summary');
      expect(report.summary).toBe(`1 healthy, 1 recovered, 1 needs a redeploy (${ID(2)}/agent)`);
      await ground.fleet.waitForHeartbeats(2);
      expect(ground.fleetState()[ID(1)]?.agent?.tokenValid).toBe(true);
      expectNoToken(ran);
    });
  });

  it('reconciles only the instances given with --instance', async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await ops(ground, ['invoke', '--env', 'local', '--instance', ID(1), '--json']);

      // Assess
      expect(ran.code).toBe(0);
      const report = JSON.parse(ran.stdout) as { hosts: { instanceId: string }[] };
      expect(report.hosts.map((h) => h.instanceId)).toStrictEqual([ID(1)]);
    });
  });

  it('exits 4, naming the instance, when --instance names a host without the fleet tag, which it never touches', async () => {
    await withGround(
      { hosts: [...FLEET.hosts, { id: ID(9), managed: false, components: { agent: { token: 'expired' } } }] },
      async (ground) => {
        // Act
        const ran = await ops(ground, ['invoke', '--env', 'local', '--instance', ID(9)]);

        // Assess
        expect(ran.code).toBe(4);
        expect(ran.stderr).toContain(
          `Not reconciled, not a fleet node (no fleet tag, not managed by SSM, or stopped): ${ID(9)}\n`,
        );
        expect(ran.stdout).toContain(
          `error: 1 requested instance(s) are not SSM managed nodes carrying the fleet tag`,
        );
        expect(ground.fleetState()[ID(9)]?.agent?.tokenValid).toBe(false);
      },
    );
  });

  it.each([[['--help']], [['help', 'invoke']], [['invoke', '-h']], [['preflight', '--help']]])(
    'prints help for %j and exits 0',
    async (argv) => {
      await withGround(FLEET, async (ground) => {
        // Act
        const ran = await ops(ground, argv);

        // Assess
        expect(ran.code).toBe(0);
        expect(ran.stdout).toMatch(/^usage: npm run ops -- /);
        expect(ground.aws.calls).toStrictEqual([]);
      });
    },
  );

  it('says how to reach AWS when the endpoint does not answer', async () => {
    await withGround(FLEET, async (ground) => {
      // Prepare: an endpoint nothing listens on
      await ground.stop();

      // Act
      const ran = await ops(ground, ['last-run', '--env', 'local']);

      // Assess
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain(
        `Could not reach AWS at AWS_ENDPOINT_URL=${ground.info.awsEndpoint} in eu-west-1`,
      );
    });
  });

  it("rejects a malformed instance id with the function's own message and exit code 2, invoking nothing", async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await ops(ground, ['invoke', '--env', 'local', '--instance', 'i-123']);

      // Assess
      expect(ran.code).toBe(2);
      expect(ran.stderr).toMatch(/^Invalid event: instanceIds\[0\]: expected an EC2 id/);
      expect(ground.aws.calls.filter((c) => c.service === 'lambda')).toStrictEqual([]);
    });
  });

  it('says which stack to deploy when the environment has no function', async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await ops(ground, ['invoke', '--env', 'staging']);

      // Assess
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain(
        'Function not found: arn:aws:lambda:eu-west-1:123456789012:function:KasmTokenReconciler-staging',
      );
      expect(ran.stderr).toContain(
        'Is the stack KasmTokenReconciler-staging deployed in this account and region (eu-west-1)?',
      );
    });
  });
});

describe("the function's log group on the proving ground", () => {
  it('holds what the function writes to stderr too, such as the "needs attention" lines the runbook query reads', async () => {
    await withGround(FLEET, async (ground) => {
      // Prepare
      await ops(ground, ['invoke', '--env', 'local', '--dry-run']);

      // Act: the runbook's query, as a filter pattern
      const found = ground.aws.logs.handle('FilterLogEvents', {
        logGroupName: LOG_GROUP_NAME,
        filterPattern: '{ $.message = "needs attention" }',
      }) as { events: { message: string }[] };

      // Assess
      expect(found.events.map((e) => JSON.parse(e.message))).toMatchObject([
        { level: 'WARN', instanceId: ID(2), component: 'agent', status: 'needs-redeploy' },
      ]);
    });
  });
});

describe('npm run ops -- last-run', () => {
  it('prints the latest run report the function logged, found through its logging configuration', async () => {
    await withGround(FLEET, async (ground) => {
      // Prepare: two runs; the second is the latest
      await ops(ground, ['invoke', '--env', 'local', '--dry-run']);
      const invoked = await ops(ground, ['invoke', '--env', 'local', '--json']);
      const latest = JSON.parse(invoked.stdout) as { runId: string; summary: string };

      // Act
      const table = await ops(ground, ['last-run', '--env', 'local']);
      const json = await ops(ground, ['last-run', '--env', 'local', '--json']);

      // Assess
      expect(table.code).toBe(3); // its report has a component needing a person
      expect(table.stdout.split('\n')[0]).toBe(latest.summary);
      expect(table.stdout).toContain(`run ${latest.runId} (direct)`);
      expect(JSON.parse(json.stdout)).toStrictEqual(JSON.parse(invoked.stdout));
      expect(
        ground.aws.calls.filter((c) => c.service !== 'lambda' && c.service !== 'logs').length,
      ).toBeGreaterThan(0);
      // Each invoke reads the log group's name too, to follow the run's progress.
      expect(ground.awsCalls()).toMatchObject({ Invoke: 2, GetFunctionConfiguration: 4 });
      expect(ground.awsCalls().FilterLogEvents).toBeGreaterThanOrEqual(2);
      expectNoToken(table);
      expectNoToken(json);
    });
  });

  it('says so, and exits 1, when the function has not run in the period', async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await ops(ground, ['last-run', '--env', 'local', '--since', '2']);

      // Assess
      expect(ran.code).toBe(1);
      expect(ran.stderr).toMatch(/^No run report in KasmTokenReconciler-local-\S+ in the last 2 hours/);
    });
  });
});
