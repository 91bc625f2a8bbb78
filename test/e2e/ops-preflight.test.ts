/**
 * `npm run ops -- preflight`, run as an operator runs it, against the proving ground: the
 * deployed function's configuration (Lambda), the secret (Secrets Manager), the fleet (SSM),
 * the documents (SSM DescribeDocument) and the alarms (CloudWatch, SNS). Every check passes
 * once and fails once; the registration token is never printed.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { scanForLeaks } from '../leak-scanner.ts';
import { ALARM_TOPIC_ARN, type ProvingGround } from '../proving-ground/proving-ground.ts';
import { ID, TOKEN, withGround } from './harness.ts';

const ROOT = join(import.meta.dirname, '../..');
const TSX = join(ROOT, 'node_modules/.bin/tsx');

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs preflight for the environment "local", or the one `extra` names with --env (a flag is given once). */
async function preflight(ground: ProvingGround, ...extra: string[]): Promise<Ran> {
  const env = extra.includes('--env') ? [] : ['--env', 'local'];
  try {
    const { stdout, stderr } = await promisify(execFile)(
      TSX,
      ['infra/ops/cli.ts', 'preflight', ...env, ...extra],
      {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_ENDPOINT_URL: ground.info.awsEndpoint,
          AWS_REGION: ground.info.region,
          AWS_ACCESS_KEY_ID: 'AKIDOPERATOR',
          AWS_SECRET_ACCESS_KEY: 'operator-secret-key',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The line of one check: "PASS  secret  …". */
function line(ran: Ran, check: string): string {
  return (
    ran.stdout.split('\n').find((l) => new RegExp(`^(PASS|WARN|FAIL|SKIP)\\s+${check}\\s`).test(l)) ?? ''
  );
}

function expectNoToken(ran: Ran, token = TOKEN): void {
  expect(
    scanForLeaks(token, [
      { where: 'preflight stdout', text: ran.stdout },
      { where: 'stderr', text: ran.stderr },
    ]),
  ).toStrictEqual([]);
}

const FLEET = {
  hosts: [
    { id: ID(1), components: { agent: { token: 'valid' } } },
    { id: ID(2), platform: 'Linux', agentVersion: '3.2.582.0', components: { agent: { token: 'valid' } } },
    { id: ID(3), online: false, components: { agent: { token: 'valid' } } },
  ],
};

describe('npm run ops -- preflight', () => {
  it('passes every check of a sound deployment, one line each, listing the nodes, and exits 0 without printing the token', async () => {
    await withGround(FLEET, async (ground) => {
      // Act
      const ran = await preflight(ground);

      // Assess
      expect(ran.code).toBe(0);
      expect(ran.stdout.split('\n')[0]).toBe('preflight KasmTokenReconciler-local in eu-west-1');
      expect(line(ran, 'function')).toMatch(/^PASS\s+function\s+KasmTokenReconciler-local is deployed$/);
      expect(line(ran, 'secret')).toMatch(
        /^PASS\s+secret\s+kasm\/registration-token is readable and holds a well-formed token \(plain string, 48 characters\)$/,
      );
      // Two of three online; one old agent and one offline host are warnings, not failures.
      expect(line(ran, 'fleet nodes')).toMatch(
        /^WARN\s+fleet nodes\s+3 nodes carry the fleet tag kasm:reconcile=true, 2 online; 2 to look at — fix: /,
      );
      expect(ran.stdout).toMatch(new RegExp(`${ID(1)}  Linux  Online  agent \\S+\\n`));
      expect(ran.stdout).toContain(
        `${ID(2)}  Linux  Online  agent 3.2.582.0  (agent older than 3.3.2746.0: update it)`,
      );
      expect(ran.stdout).toContain(`${ID(3)}  Linux  ConnectionLost`);
      expect(line(ran, 'documents')).toMatch(/^PASS\s+documents\s+probe and push in SSM match this checkout/);
      expect(line(ran, 'alarms')).toMatch(
        /^PASS\s+alarms\s+6 alarms notify 1 topic\(s\) with a confirmed subscription$/,
      );
      expect(ground.awsCalls()).toMatchObject({
        GetFunctionConfiguration: 1,
        GetSecretValue: 1,
        DescribeInstanceInformation: 1,
        DescribeDocument: 2,
        DescribeAlarms: 1,
        GetTopicAttributes: 1,
      });
      expectNoToken(ran);
    });
  });

  it('fails the secret check when the secret does not exist, with the create-secret command', async () => {
    await withGround({ ...FLEET, registrationToken: null }, async (ground) => {
      // Act
      const ran = await preflight(ground);

      // Assess
      expect(ran.code).toBe(1);
      expect(line(ran, 'secret')).toBe(
        'FAIL  secret       kasm/registration-token could not be read (ResourceNotFoundException) — fix: create it: ' +
          'aws secretsmanager create-secret --name kasm/registration-token --secret-string file://token.txt (docs/deploying.md)',
      );
      expect(line(ran, 'documents')).toMatch(/^PASS/);
    });
  });

  it('fails the secret check when the secret is not a token, naming why but never its value', async () => {
    const wrong = 'not a token but a pasted sentence';
    await withGround({ ...FLEET, registrationToken: wrong }, async (ground) => {
      // Act
      const ran = await preflight(ground);

      // Assess
      expect(ran.code).toBe(1);
      expect(line(ran, 'secret')).toMatch(
        /^FAIL\s+secret\s+The secret "kasm\/registration-token" holds characters a Kasm registration token never has/,
      );
      expect(ran.stdout).not.toContain(wrong);
      expectNoToken(ran, wrong);
    });
  });

  it('fails the fleet check when no node carries the fleet tag, with the tagging command', async () => {
    await withGround(
      { hosts: [{ id: ID(1), managed: false, components: { agent: { token: 'valid' } } }] },
      async (ground) => {
        // Act
        const ran = await preflight(ground);

        // Assess
        expect(ran.code).toBe(1);
        expect(line(ran, 'fleet nodes')).toMatch(
          /^FAIL\s+fleet nodes\s+no SSM managed node carries the fleet tag kasm:reconcile=true — fix: tag the Kasm hosts: aws ec2 create-tags --resources i-… --tags Key=kasm:reconcile,Value=true/,
        );
      },
    );
  });

  it('fails the documents check when SSM holds other content under the deployed name', async () => {
    // Prepare: someone deleted the probe document and created it again with other content
    const other = JSON.stringify({
      schemaVersion: '2.2',
      description: 'not ours',
      mainSteps: [{ action: 'aws:runShellScript', name: 'x', inputs: { runCommand: ['true'] } }],
    });
    await withGround(
      FLEET,
      async (ground) => {
        // Act
        const ran = await preflight(ground);

        // Assess
        expect(ran.code).toBe(1);
        expect(line(ran, 'documents')).toMatch(
          /^FAIL\s+documents\s+probe: KasmTokenReconciler-local-Probe-\S+ in SSM has content [0-9a-f]{12}, not [0-9a-f]{12} — fix: npx cdk deploy -c env=local/,
        );
      },
      { replaceDocuments: { probe: other } },
    );
  });

  it('fails the alarms check while the alarm subscription waits for confirmation, saying how to confirm it', async () => {
    await withGround(FLEET, async (ground) => {
      // Prepare: the stack made the topic and the e-mail subscription, nobody clicked the link yet
      ground.aws.sns.topics.set(ALARM_TOPIC_ARN, { confirmed: 0, pending: 1 });

      // Act
      const ran = await preflight(ground);

      // Assess
      expect(ran.code).toBe(1);
      expect(line(ran, 'alarms')).toMatch(
        /^FAIL\s+alarms\s+6 alarms notify 1 topic\(s\), but no subscription is confirmed — fix: confirm the subscription: open the "AWS Notification - Subscription Confirmation" e-mail/,
      );
      expect(ran.stdout).toContain(`${ALARM_TOPIC_ARN}: 0 confirmed, 1 pending subscription(s)`);
    });
  });

  it("fails the alarms check when one of the stack's alarms is gone, though another environment's of that prefix exists", async () => {
    await withGround(FLEET, async (ground) => {
      // Prepare: local's RunNotOk deleted; "local-eu" (a name local's prefix also matches) has its own
      const alarms = ground.aws.cloudwatch.alarms;
      alarms.splice(
        alarms.findIndex((a) => a.name === 'KasmTokenReconciler-local-RunNotOk'),
        1,
        { name: 'KasmTokenReconciler-local-eu-RunNotOk', actions: [ALARM_TOPIC_ARN] },
      );

      // Act
      const ran = await preflight(ground);

      // Assess
      expect(ran.code).toBe(1);
      expect(line(ran, 'alarms')).toMatch(
        /^FAIL\s+alarms\s+5 of the stack's 6 alarms exist; missing: KasmTokenReconciler-local-RunNotOk — fix: npx cdk deploy -c env=local/,
      );
    });
  });

  it('fails the function check for an environment that is not deployed, and --before-deploy checks only what a deploy needs', async () => {
    await withGround(FLEET, async (ground) => {
      // Act: "dev" is in cdk.json but not deployed here
      const ran = await preflight(ground, '--env', 'dev');
      const before = await preflight(ground, '--env', 'dev', '--before-deploy');

      // Assess
      expect(ran.code).toBe(1);
      expect(line(ran, 'function')).toMatch(
        /^FAIL\s+function\s+KasmTokenReconciler-dev is not deployed in eu-west-1 — fix: npx cdk deploy -c env=dev/,
      );
      // Without a deployed function, the settings come from cdk.json: dev's secret does not exist here.
      expect(line(ran, 'secret')).toMatch(
        /^FAIL\s+secret\s+kasm\/dev\/registration-token could not be read \(ResourceNotFoundException\)/,
      );
      expect(line(before, 'function')).toMatch(/^SKIP/);
      expect(line(before, 'alarms')).toMatch(/^SKIP/);
      expect(line(before, 'fleet nodes')).toMatch(/^WARN/);
    });
  });
});
