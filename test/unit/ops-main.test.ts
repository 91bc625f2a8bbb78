/**
 * `npm run ops` in-process: runOps with scripted Lambda and CloudWatch Logs clients, so each
 * exit code, message and hint is checked without a child process. test/e2e/ops-cli.test.ts
 * runs the same commands as a process against the proving ground.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { USAGE } from '../../infra/ops/args.ts';
import { crashMessage, INVOKE_TIMEOUT_MS, makeClients, runOps } from '../../infra/ops/main.ts';
import type { Report } from '../../infra/ops/render.ts';
import { ALARM_IDS } from '../../shared/names.ts';
import { type Answer, awsError, decode, encode, FakeOpsClients, sink } from './fake-ops-clients.ts';

const REPORT: Report = {
  summary: '1 recovered',
  ok: true,
  dryRun: false,
  runId: 'run-7',
  trigger: 'direct',
  startedAt: '2026-11-30T07:00:00.000Z',
  durationMs: 4200,
  kasmApi: 'healthy',
  totals: { recovered: 1 },
  hosts: [{ instanceId: 'i-0a1b2c3d4e5f60001', components: [{ name: 'agent', status: 'recovered' }] }],
  errors: [],
};

/** Runs the CLI with the given answers; `env` is the operator's environment (no region by default). */
async function ops(
  argv: string[],
  answers: Partial<Record<string, Answer>> = {},
  options: { env?: Record<string, string>; cdkJsonPath?: string; terminal?: boolean } = {},
) {
  const clients = new FakeOpsClients(answers);
  const stdout = sink();
  const stderr = sink(options.terminal);
  const code = await runOps(argv, {
    stdout,
    stderr,
    env: options.env ?? {},
    clients: clients.factory,
    ...(options.cdkJsonPath ? { cdkJsonPath: options.cdkJsonPath } : {}),
  });
  return { code, stdout: stdout.text, stderr: stderr.text, stderrWrites: stderr.written, clients };
}

const invoked =
  (report: unknown): Answer =>
  () => ({ StatusCode: 200, Payload: encode(report) });

describe('ops invoke', () => {
  it("invokes the environment's function with the event, prints the table and exits 0 when the run did its job", async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod', '--instance', 'i-0a1b2c3d4e5f60001'], {
      Invoke: invoked(REPORT),
    });

    // Assess
    expect(ran.code).toBe(0);
    const [input] = ran.clients.inputs('Invoke');
    expect(input).toMatchObject({
      FunctionName: 'KasmTokenReconciler-prod',
      InvocationType: 'RequestResponse',
    });
    expect(decode(input?.Payload)).toStrictEqual({ instanceIds: ['i-0a1b2c3d4e5f60001'] });
    expect(ran.stdout.split('\n')[0]).toBe('1 recovered');
    expect(ran.stdout).toContain('run run-7 (direct) started 2026-11-30T07:00:00.000Z, took 4.2 s');
    expect(ran.stderr).toBe('KasmTokenReconciler-prod: run in progress…\n');
    // The region cdk.json gives prod, since the operator set none; both clients are closed after.
    expect(ran.clients.regions).toStrictEqual(['eu-west-1']);
    expect(ran.clients.destroyed).toBe(6);
  });

  it('says "dry run" while waiting, prints JSON with --json, and exits 1 when the run did not do its job', async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'dev', '--dry-run', '--json'], {
      Invoke: invoked({ ...REPORT, ok: false, dryRun: true }),
    });

    // Assess
    expect(ran.code).toBe(1);
    expect(JSON.parse(ran.stdout)).toStrictEqual({ ...REPORT, ok: false, dryRun: true });
    expect(ran.stderr).toBe('KasmTokenReconciler-dev: dry run in progress…\n');
    expect(decode(ran.clients.inputs('Invoke')[0]?.Payload)).toStrictEqual({ dryRun: true });
  });

  it('shows the wait on one line a terminal rewrites, ended with how long the run took', async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod'], { Invoke: invoked(REPORT) }, { terminal: true });

    // Assess: whatever the machine's speed, the first and the last write frame the wait
    expect(ran.code).toBe(0);
    const erase = '\r\x1b[2K';
    const [first = '', last = ''] = [ran.stderrWrites[0], ran.stderrWrites.at(-1)];
    expect([first.startsWith(erase), last.startsWith(erase)]).toStrictEqual([true, true]);
    expect(first.slice(erase.length)).toMatch(/^KasmTokenReconciler-prod: run in progress… \d+s$/);
    expect(last.slice(erase.length)).toMatch(/^KasmTokenReconciler-prod: run in progress: done in \d+s\n$/);
    expect(ran.stdout.split('\n')[0]).toBe('1 recovered');
  });

  it("uses the operator's AWS_REGION, else AWS_DEFAULT_REGION, before the region in cdk.json", async () => {
    // Act
    const both = await ops(
      ['invoke', '--env', 'prod'],
      { Invoke: invoked(REPORT) },
      {
        env: { AWS_REGION: 'us-east-1', AWS_DEFAULT_REGION: 'us-west-2' },
      },
    );
    const fallback = await ops(
      ['invoke', '--env', 'prod'],
      { Invoke: invoked(REPORT) },
      {
        env: { AWS_DEFAULT_REGION: 'us-west-2' },
      },
    );
    const none = await ops(['invoke', '--env', 'dev'], { Invoke: invoked(REPORT) });

    // Assess: dev names no region in cdk.json, so the SDK's own lookup decides
    expect(both.clients.regions).toStrictEqual(['us-east-1']);
    expect(fallback.clients.regions).toStrictEqual(['us-west-2']);
    expect(none.clients.regions).toStrictEqual([undefined]);
  });

  it("shows a function error with the function's error type and message, and exits 1", async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod'], {
      Invoke: () => ({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: encode({ errorType: 'InvalidEventError', errorMessage: 'Invalid event: bogus', trace: [] }),
      }),
    });

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toContain(
      'The function failed (Unhandled): InvalidEventError: Invalid event: bogus\n',
    );
  });

  it.each([
    [
      'a payload that is not JSON as it is',
      new TextEncoder().encode('Task timed out'),
      'The function failed (Unhandled): Task timed out',
    ],
    [
      'a JSON payload without errorType or errorMessage as Error and the payload',
      encode({}),
      'The function failed (Unhandled): Error: {}',
    ],
    ['no payload at all as null', undefined, 'The function failed (Unhandled): null'],
  ])('shows a function error with %s', async (_, Payload, message) => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod'], {
      Invoke: () => ({ StatusCode: 200, FunctionError: 'Unhandled', ...(Payload ? { Payload } : {}) }),
    });

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(`KasmTokenReconciler-prod: run in progress…\n${message}\n`);
  });
});

describe('ops: what an AWS error means for the operator', () => {
  it.each([
    [
      'ResourceNotFoundException',
      'Function not found: arn:aws:lambda:eu-west-1:123456789012:function:KasmTokenReconciler-prod',
      'Is the stack KasmTokenReconciler-prod deployed in this account and region (eu-west-1)? (environments in cdk.json: dev, prod; choose another region with --region)',
    ],
    [
      'TooManyRequestsException',
      'Rate Exceeded.',
      "Lambda throttled the run: the account's concurrency (or the environment's reservedConcurrency) is in use; try again in a few minutes.",
    ],
    [
      'AccessDeniedException',
      'User is not authorized to perform: lambda:InvokeFunction',
      'Your credentials lack a permission docs/operating.md lists under "Operator command line".',
    ],
    [
      'AccessDenied',
      'Access Denied',
      'Your credentials lack a permission docs/operating.md lists under "Operator command line".',
    ],
  ])('explains %s after its message, and exits 1', async (name, message, hint) => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod'], {
      Invoke: () => {
        throw awsError(name, message);
      },
    });

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(`KasmTokenReconciler-prod: run in progress…\n${message}\n${hint}\n`);
    expect(ran.clients.destroyed).toBe(6);
  });

  it('says cdk.json lists no environments when there is no cdk.json', async () => {
    // Act
    const ran = await ops(
      ['last-run', '--env', 'staging'],
      {
        GetFunctionConfiguration: () => {
          throw awsError('ResourceNotFoundException', 'Function not found');
        },
      },
      { cdkJsonPath: join(import.meta.dirname, 'no-such-dir', 'cdk.json') },
    );

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      'Function not found\nIs the stack KasmTokenReconciler-staging deployed in this account and region (your default region)? ' +
        '(environments in cdk.json: none; choose another region with --region)\n',
    );
    expect(ran.clients.regions).toStrictEqual([undefined]);
  });

  it('shows any other error by its message alone, and a thrown value that is no Error as it is', async () => {
    // Act
    const other = await ops(['last-run', '--env', 'prod'], {
      GetFunctionConfiguration: () => {
        throw awsError('ServiceException', 'Internal failure');
      },
    });
    const odd = await ops(['last-run', '--env', 'prod'], {
      GetFunctionConfiguration: () => {
        throw 'socket hang up';
      },
    });

    // Assess
    expect(other).toMatchObject({ code: 1, stderr: 'Internal failure\n', stdout: '' });
    expect(odd).toMatchObject({
      code: 1,
      stderr:
        'socket hang up\nCould not reach AWS in eu-west-1: check the network (proxy, VPN), the region, and AWS_ENDPOINT_URL if you set one.\n',
      stdout: '',
    });
  });
});

describe('ops last-run', () => {
  const head = (report: unknown, timestamp: number) => ({
    timestamp,
    message: JSON.stringify({ message: 'run report', runId: 'run-7', report }),
  });

  it("reads the latest report from the log group the function's logging configuration names", async () => {
    // Prepare
    const before = Date.now();

    // Act
    const ran = await ops(['last-run', '--env', 'prod', '--since', '6', '--json'], {
      GetFunctionConfiguration: () => ({ LoggingConfig: { LogGroup: 'custom-group' } }),
      FilterLogEvents: () => ({
        events: [head({ ...REPORT, runId: 'old' }, 1000), head(REPORT, 2000)],
      }),
    });
    const after = Date.now();

    // Assess
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout)).toStrictEqual(REPORT);
    expect(ran.clients.inputs('GetFunctionConfiguration')).toStrictEqual([
      { FunctionName: 'KasmTokenReconciler-prod' },
    ]);
    const [filter] = ran.clients.inputs('FilterLogEvents');
    expect(filter).toMatchObject({
      logGroupName: 'custom-group',
      filterPattern: '{ $.message = "run report" }',
    });
    // Six hours back from when it ran.
    expect(filter?.startTime).toBeGreaterThanOrEqual(before - 6 * 3_600_000);
    expect(filter?.startTime).toBeLessThanOrEqual(after - 6 * 3_600_000);
    // Nothing waits on a read of the logs: no progress line.
    expect(ran.stderr).toBe('');
  });

  it('exits 0 for a scheduled run that was skipped (another run covered the fleet), and says it was skipped', async () => {
    // Prepare: what the function logs for a skipped scheduled run (lambda/reconcile.ts skippedReport)
    const skipped = {
      ...REPORT,
      summary: 'Skipped: run run-6 is still reconciling the whole fleet.',
      trigger: 'schedule',
      kasmApi: 'unchecked',
      totals: {},
      hostTotals: {},
      hosts: [],
      skipped: { reason: 'run run-6 is still reconciling the whole fleet', otherRunId: 'run-6' },
    };

    // Act
    const ran = await ops(['last-run', '--env', 'prod'], {
      GetFunctionConfiguration: () => ({ LoggingConfig: { LogGroup: 'group' } }),
      FilterLogEvents: () => ({ events: [head(skipped, 2000)] }),
    });

    // Assess
    expect(ran.code).toBe(0);
    expect(ran.stdout.split('\n').slice(0, 3)).toStrictEqual([
      'Skipped: run run-6 is still reconciling the whole fleet.',
      '',
      'Skipped, as it should be: run run-6 was still reconciling the whole fleet, so this scheduled run changed nothing; ' +
        'the next scheduled run covers the fleet.',
    ]);
    expect(ran.stdout).not.toContain('No fleet hosts were reconciled');
    expect(ran.stderr).toBe('');
  });

  it("falls back to the function's default log group, and says so when no run is in the period", async () => {
    // Act
    const ran = await ops(['last-run', '--env', 'dev'], {
      GetFunctionConfiguration: () => ({}),
      FilterLogEvents: () => ({ events: [] }),
    });

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.clients.inputs('FilterLogEvents')[0]?.logGroupName).toBe(
      '/aws/lambda/KasmTokenReconciler-dev',
    );
    expect(ran.stderr).toBe(
      'No run report in /aws/lambda/KasmTokenReconciler-dev in the last 24 hours (try --since with more hours).\n',
    );
  });
});

describe('ops preflight', () => {
  it('hints at what to do when the secret cannot be read for want of credentials or a connection, not at the console', async () => {
    // Prepare
    const noCredentials = () => {
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };
    const refused = () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    };

    // Act
    const credentials = await ops(['preflight', '--env', 'prod', '--before-deploy'], {
      GetSecretValue: noCredentials,
      DescribeInstanceInformation: noCredentials,
    });
    const connection = await ops(
      ['preflight', '--env', 'prod', '--before-deploy'],
      { GetSecretValue: refused, DescribeInstanceInformation: refused },
      { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } },
    );

    // Assess
    const secretLine = (text: string) => text.split('\n').find((l) => /^FAIL\s+secret\s/.test(l)) ?? '';
    expect(credentials.code).toBe(1);
    expect(secretLine(credentials.stdout)).toMatch(
      /could not be read \(CredentialsProviderError\) — fix: AWS did not accept your credentials: sign in again/,
    );
    expect(secretLine(connection.stdout)).toContain(
      '— fix: Could not reach AWS at AWS_ENDPOINT_URL=http://127.0.0.1:9 in eu-west-1',
    );
    expect(credentials.stdout + connection.stdout).not.toContain('Secrets Manager console');
  });
});

describe('ops preflight: alarms', () => {
  it("asks CloudWatch for the stack's own alarm names, not a prefix another environment's names share, and names any missing", async () => {
    // Act: prod is not deployed here, so its settings come from cdk.json
    const ran = await ops(['preflight', '--env', 'prod'], {
      GetFunctionConfiguration: () => {
        throw awsError('ResourceNotFoundException', 'Function not found');
      },
      GetSecretValue: () => {
        throw awsError('ResourceNotFoundException', 'Secrets Manager cannot find the specified secret.');
      },
      DescribeInstanceInformation: () => ({ InstanceInformationList: [] }),
      DescribeAlarms: (input) => ({
        MetricAlarms: (input.AlarmNames as string[])
          .filter((name) => !name.endsWith('-NoSuccessfulRun'))
          .map((AlarmName) => ({ AlarmName, AlarmActions: [] })),
      }),
    });

    // Assess
    expect(ran.clients.inputs('DescribeAlarms')).toStrictEqual([
      { AlarmNames: ALARM_IDS.map((id) => `KasmTokenReconciler-prod-${id}`) },
    ]);
    expect(ran.stdout).toMatch(
      /^FAIL\s+alarms\s+5 of the stack's 6 alarms exist; missing: KasmTokenReconciler-prod-NoSuccessfulRun — fix: /m,
    );
  });
});

describe('ops: usage', () => {
  it('rejects a flag given twice with a usage error, exit 2, before any AWS call', async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod', '--env', 'dev']);

    // Assess
    expect(ran.code).toBe(2);
    expect(ran.stderr.split('\n')[0]).toBe('--env is given more than once; give it once');
    expect(ran.clients.regions).toStrictEqual([]);
  });

  it('prints the problem and the usage, exits 2 and makes no client', async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod', '--since', '3']);

    // Assess
    expect(ran.code).toBe(2);
    expect(ran.stderr).toBe(`unexpected argument "--since" for invoke\n\n${USAGE}\n`);
    expect(ran.clients.regions).toStrictEqual([]);
  });
});

describe('crashMessage', () => {
  it("shows an error's stack, else its message, else the value thrown", () => {
    const withStack = new Error('boom');
    const withoutStack = Object.assign(new Error('no stack here'), { stack: undefined });

    expect(crashMessage(withStack)).toBe(`ops failed: ${withStack.stack}\n`);
    expect(crashMessage(withStack)).toMatch(/^ops failed: Error: boom\n\s+at /);
    expect(crashMessage(withoutStack)).toBe('ops failed: no stack here\n');
    expect(crashMessage(42)).toBe('ops failed: 42\n');
  });
});

describe('makeClients', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('makes a Lambda client that never re-sends an invoke, in the region chosen', async () => {
    // Act
    const { lambda, logs } = makeClients({ region: 'eu-west-1' });

    // Assess
    try {
      expect(await lambda.config.region()).toBe('eu-west-1');
      expect(await logs.config.region()).toBe('eu-west-1');
      expect(await lambda.config.maxAttempts()).toBe(1);
      expect(INVOKE_TIMEOUT_MS).toBeGreaterThan(15 * 60 * 1000);
    } finally {
      lambda.destroy();
      logs.destroy();
    }
  });

  it("leaves the region to the SDK's own lookup when none was chosen", async () => {
    // Prepare
    vi.stubEnv('AWS_REGION', 'ap-south-1');

    // Act
    const { lambda, logs } = makeClients({});

    // Assess
    try {
      expect(await lambda.config.region()).toBe('ap-south-1');
      expect(await logs.config.region()).toBe('ap-south-1');
    } finally {
      lambda.destroy();
      logs.destroy();
    }
  });
});

describe('ops: help, choices and exit codes', () => {
  it.each([
    [['--help']],
    [['-h']],
    [['help']],
    [['help', '--help']],
    [['help', '-h']],
    [['help', 'help']],
    [['invoke', '--help']],
    [['help', 'last-run']],
  ])('prints help for %j on stdout, exits 0 and reaches no AWS', async (argv) => {
    // Act
    const ran = await ops(argv);

    // Assess
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^usage: npm run ops -- /);
    expect(ran.stderr).toBe('');
    expect(ran.clients.regions).toStrictEqual([]);
  });

  it('gives the clients the --region and --profile chosen, before AWS_REGION and cdk.json', async () => {
    // Act
    const ran = await ops(
      ['invoke', '--env', 'prod', '--region', 'ap-south-1', '--profile', 'kasm-ops'],
      { Invoke: invoked(REPORT) },
      { env: { AWS_REGION: 'us-east-1' } },
    );

    // Assess
    expect(ran.code).toBe(0);
    expect(ran.clients.choices).toStrictEqual([{ region: 'ap-south-1', profile: 'kasm-ops' }]);
  });

  it('exits 4 and names the instance when an --instance was not reconciled (no fleet tag)', async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod', '--instance', 'i-0a1b2c3d4e5f60009'], {
      Invoke: invoked({ ...REPORT, hosts: [], totals: {}, errors: ['1 requested instance(s) are not …'] }),
    });

    // Assess
    expect(ran.code).toBe(4);
    expect(ran.stderr).toContain(
      'Not reconciled, not a fleet node (no fleet tag, not managed by SSM, or stopped): i-0a1b2c3d4e5f60009\n',
    );
  });

  it('exits 4 and names the instance when every --instance carries the fleet tag but was offline', async () => {
    // Prepare: SSM lists the host (it is a fleet node), but as ConnectionLost, so the run settled it unreachable
    const offline = {
      instanceId: 'i-0a1b2c3d4e5f60008',
      status: 'unreachable',
      reason: 'the host is offline (SSM PingStatus ConnectionLost)',
      components: [{ name: 'agent', status: 'unreachable' }],
    };
    const unreachableReport = {
      ...REPORT,
      summary: '1 host unreachable (i-0a1b2c3d4e5f60008)',
      totals: {},
      hostTotals: { unreachable: 1 },
      hosts: [offline],
    };

    // Act
    const ran = await ops(['invoke', '--env', 'prod', '--instance', 'i-0a1b2c3d4e5f60008'], {
      Invoke: invoked(unreachableReport),
    });
    const mixed = await ops(
      ['invoke', '--env', 'prod', '--instance', 'i-0a1b2c3d4e5f60001', '--instance', 'i-0a1b2c3d4e5f60008'],
      { Invoke: invoked({ ...unreachableReport, hosts: [...REPORT.hosts, offline] }) },
    );

    // Assess: nothing was done that was asked; with one host reached, the run did part of its job
    expect(ran.code).toBe(4);
    expect(ran.stderr).toContain(
      'Not reconciled, offline (SSM lists it, but its agent did not answer): i-0a1b2c3d4e5f60008\n',
    );
    expect(mixed.code).toBe(0);
    expect(mixed.stderr).toContain(
      'Not reconciled, offline (SSM lists it, but its agent did not answer): i-0a1b2c3d4e5f60008\n',
    );
  });

  it('exits 3 when the run did its job but a component needs a person', async () => {
    // Act
    const ran = await ops(['invoke', '--env', 'prod'], {
      Invoke: invoked({
        ...REPORT,
        hosts: [
          { instanceId: 'i-0a1b2c3d4e5f60001', components: [{ name: 'agent', status: 'needs-redeploy' }] },
        ],
      }),
    });

    // Assess
    expect(ran.code).toBe(3);
    expect(ran.stdout).toContain('i-0a1b2c3d4e5f60001/agent (needs-redeploy): redeploy the component');
  });

  it('narrows the table to a terminal and leaves it whole with --wide', async () => {
    // Prepare
    const reason = 'r'.repeat(150);
    const wideReport = {
      ...REPORT,
      hosts: [
        { instanceId: 'i-0a1b2c3d4e5f60001', components: [{ name: 'agent', status: 'recovered', reason }] },
      ],
    };
    const run = async (argv: string[]) => {
      const clients = new FakeOpsClients({ Invoke: invoked(wideReport) });
      const stdout = { ...sink(true), columns: 100 };
      const written: string[] = [];
      stdout.write = (text: string) => written.push(text);
      await runOps(argv, { stdout, stderr: sink(), env: {}, clients: clients.factory });
      return written.join('').split('\n');
    };

    // Act
    const narrow = await run(['invoke', '--env', 'prod']);
    const wide = await run(['invoke', '--env', 'prod', '--wide']);

    // Assess
    expect(Math.max(...narrow.slice(2, 5).map((l) => l.length))).toBeLessThanOrEqual(100);
    expect(Math.max(...wide.slice(2, 5).map((l) => l.length))).toBeGreaterThan(150);
  });

  it.each([
    [
      'a missing region',
      Object.assign(new Error('Region is missing'), { name: 'Error' }),
      'No AWS region: pass --region',
    ],
    [
      'credentials the SDK cannot find',
      Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      }),
      'AWS did not accept your credentials',
    ],
    [
      'an expired token',
      awsError('ExpiredTokenException', 'The security token included in the request is expired'),
      'aws sso login',
    ],
    [
      'a refused connection',
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
      'Could not reach AWS at AWS_ENDPOINT_URL=http://127.0.0.1:9 in eu-west-1',
    ],
  ])('hints at what to do about %s', async (_, error, hint) => {
    // Act
    const ran = await ops(
      ['last-run', '--env', 'prod'],
      {
        GetFunctionConfiguration: () => {
          throw error;
        },
      },
      { env: { AWS_ENDPOINT_URL: 'http://127.0.0.1:9' } },
    );

    // Assess
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(hint);
  });

  it('shows the run by step and batch while it waits, read from the function log group', async () => {
    // Prepare: the function logs its start, inventory and a batch while the invoke is pending
    const at = Date.now();
    let release: (() => void) | undefined;
    const events = [
      { message: 'run started', runId: 'run-7', trigger: 'direct', dryRun: false },
      { message: 'inventory', runId: 'run-7', hosts: 60, reachable: 60 },
      {
        message: 'progress',
        runId: 'run-7',
        step: 'probe',
        batchesDone: 1,
        batches: 2,
        nodesDone: 50,
        nodes: 60,
      },
    ].map((line, i) => ({ timestamp: at + i, message: JSON.stringify(line) }));
    const clients = new FakeOpsClients({
      GetFunctionConfiguration: () => ({ LoggingConfig: { LogGroup: 'group' } }),
      FilterLogEvents: () => {
        setTimeout(() => release?.(), 5);
        return { events };
      },
      Invoke: () =>
        new Promise((resolve) => {
          release = () => resolve({ StatusCode: 200, Payload: encode(REPORT) });
        }),
    });
    const stderr = sink();

    // Act
    const code = await runOps(['invoke', '--env', 'prod'], {
      stdout: sink(),
      stderr,
      env: {},
      clients: clients.factory,
      progressIntervalMs: 10,
    });

    // Assess: not a terminal, so one line per change of progress
    expect(code).toBe(0);
    expect(stderr.text).toBe(
      'KasmTokenReconciler-prod: run in progress…\n' +
        'KasmTokenReconciler-prod: run in progress: inventory: 60 hosts, 60 online · probe: batch 1 of 2 (50 of 60 hosts)\n',
    );
  });
});
