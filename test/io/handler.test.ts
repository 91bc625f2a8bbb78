/**
 * The Lambda entry point in process, its AWS clients answered by the test: what one invocation
 * returns (report, summary, SQS partial batch response), what it logs and which metrics it
 * publishes, and how the Lambda context's request id and remaining time bound the run. The
 * e2e tests run the same handler against the proving ground's wire-level AWS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHandler, createLambdaHandler } from '../../lambda/handler.ts';
import { LEFT_FOR_NEXT_RUN } from '../../lambda/steps/context.ts';
import { createTlsMaterial } from '../proving-ground/kasm/tls.ts';
import { startBatch, startedRecord } from '../start-events.ts';
import { awsError } from '../unit/fake-ssm.ts';
import { DOCUMENTS, ID, TOKEN } from '../unit/loop-fixture.ts';

const ENV = {
  REGISTRATION_TOKEN_SECRET_ID: 'kasm/token',
  PROBE_DOCUMENT_NAME: DOCUMENTS.probe,
  PUSH_DOCUMENT_NAME: DOCUMENTS.push,
  PROBE_DOCUMENT_HASH: 'a'.repeat(64),
  PUSH_DOCUMENT_HASH: 'b'.repeat(64),
  ONLINE_WAIT_SECONDS: '0',
  POWERTOOLS_METRICS_NAMESPACE: 'KasmTokenReconciler/unit',
};

type Answer = (input: Record<string, unknown>) => unknown;

/**
 * Every SSM, EC2 and Secrets Manager call the handler's clients make is answered here (an
 * operation without an answer is denied) and recorded; and everything the function writes
 * (log lines, metrics) is collected as the JSON documents CloudWatch would receive.
 */
function fakeAws(answers: Partial<Record<string, Answer>>) {
  const calls: { operation: string; input: Record<string, unknown> }[] = [];
  const send = async (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
    const operation = command.constructor.name.replace(/Command$/, '');
    calls.push({ operation, input: command.input });
    const answer = answers[operation];
    if (!answer) throw awsError('AccessDeniedException', `not allowed: ${operation}`);
    return answer(command.input);
  };
  for (const client of [SSMClient, EC2Client, SecretsManagerClient]) {
    vi.spyOn(client.prototype, 'send').mockImplementation(send as never);
  }
  const written: string[] = [];
  const capture = (chunk: unknown) => {
    written.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture as never);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture as never);
  const documents = () =>
    written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    calls,
    operations: () => calls.map((c) => c.operation),
    written: () => written.join(''),
    /** Log lines, each as the logger wrote it. */
    logged: (message: string) => documents().filter((d) => d.message === message),
    /** Embedded-metric-format documents. */
    metrics: () => documents().filter((d) => '_aws' in d),
  };
}

const fleetOf =
  (...ids: string[]): Answer =>
  () => ({
    InstanceInformationList: ids.map((id) => ({
      InstanceId: id,
      PingStatus: 'Online',
      PlatformType: 'Linux',
      AgentVersion: '3.3.2746.0',
    })),
  });

/** A fleet with no hosts, a readable secret, and EC2 knowing no fleet tags. */
const emptyWorld: Partial<Record<string, Answer>> = {
  DescribeInstanceInformation: fleetOf(),
  DescribeTags: () => ({ Tags: [] }),
  GetSecretValue: () => ({ SecretString: TOKEN }),
};

/** An SQS record whose body is not a running-state notification. */
const notJson = (messageId: string) => ({ messageId, eventSource: 'aws:sqs', body: 'hello' });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('the handler, for one invocation', () => {
  it('returns the summarized report, logs the run from start to report, and publishes its metrics', async () => {
    // Prepare
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createHandler(ENV)({ 'detail-type': 'Scheduled Event' }, undefined);

    // Assess
    expect(report).toMatchObject({
      summary: 'no fleet hosts to reconcile',
      ok: true,
      trigger: 'schedule',
      kasmApi: 'unchecked',
      hosts: [],
      errors: [],
    });
    expect(report).not.toHaveProperty('batchItemFailures');
    expect(aws.logged('run started')).toEqual([
      expect.objectContaining({
        runId: report.runId,
        trigger: 'schedule',
        dryRun: false,
        instanceIds: 'all',
      }),
    ]);
    expect(aws.logged('inventory')).toEqual([expect.objectContaining({ hosts: 0, reachable: 0 })]);
    expect(aws.logged('run finished')).toEqual([expect.objectContaining({ hosts: 0, ok: true })]);
    expect(aws.logged('run report')).toEqual([
      expect.objectContaining({ runId: report.runId, report: JSON.parse(JSON.stringify(report)) }),
    ]);
    const [emf] = aws.metrics();
    expect(emf).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'KasmTokenReconciler/unit' }] },
      RunOk: 1,
      RunNotOk: 0,
      Throttles: 0,
    });
  });

  it.each([
    ['no Lambda context (a local run)', undefined],
    ['a context without the remaining time', { awsRequestId: 'req-1' }],
  ])('runs to the end with %s, as if it had Lambda’s full fifteen minutes', async (_, context) => {
    // Prepare
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createHandler(ENV)({}, context);

    // Assess
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.runId).toMatch(context ? /^req-1$/ : UUID);
    expect(aws.operations()).toEqual(['GetSecretValue', 'DescribeInstanceInformation']);
  });

  it('names the run after the Lambda request id, in the report and in every log line', async () => {
    // Prepare
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createHandler(ENV)(
      {},
      {
        awsRequestId: 'req-7',
        getRemainingTimeInMillis: () => 600_000,
      },
    );

    // Assess
    expect(report.runId).toBe('req-7');
    const lines = ['run started', 'inventory', 'run finished', 'run report'].flatMap(aws.logged);
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line.runId).toBe('req-7');
  });

  it('leaves a host for the next run when less time is left than the reporting margin', async () => {
    // Prepare: 10 s left, under the 20 s kept back for reporting but over the 5 s hard stop
    const aws = fakeAws({ ...emptyWorld, DescribeInstanceInformation: fleetOf(ID(1)) });

    // Act
    const report = await createHandler(ENV)({}, { getRemainingTimeInMillis: () => 10_000 });

    // Assess
    expect(report.ok).toBe(true);
    expect(report.hosts.map((h) => [h.instanceId, h.reason])).toEqual([[ID(1), LEFT_FOR_NEXT_RUN]]);
    // One host left over, counted as a host, not as its four catalog components.
    expect(report.totals).toEqual({});
    expect(report.hostTotals).toEqual({ failed: 1 });
    expect(report.summary).toBe(`1 host failed (${ID(1)})`);
    expect(aws.operations()).not.toContain('SendCommand');
  });

  it('makes no AWS call at all when less time is left than the hard stop, and says why the run failed', async () => {
    // Prepare: 3 s left, under the 5 s margin before Lambda stops the function
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createHandler(ENV)({}, { getRemainingTimeInMillis: () => 3000 });

    // Assess
    expect(aws.calls).toEqual([]);
    expect(report.ok).toBe(false);
    expect(report.errors).toContain(
      'Listing the managed nodes failed (DeadlineError: DescribeInstanceInformation was not completed: the run reached its deadline); nothing was done.',
    );
  });

  it.each([
    [{}, 'direct', 'all', false],
    [{ instanceIds: [ID(1), ID(2)] }, 'direct', 2, false],
    [{ dryRun: true }, 'direct', 'all', true],
    [startBatch([ID(1), ID(2), ID(3)]), 'instance-start', 3, false],
  ])(
    'logs at the start which trigger, mode and hosts the run %j covers',
    async (event, trigger, instanceIds, dryRun) => {
      // Prepare
      const aws = fakeAws(emptyWorld);

      // Act
      await createHandler(ENV)(event, undefined);

      // Assess
      expect(aws.logged('run started')).toEqual([expect.objectContaining({ trigger, dryRun, instanceIds })]);
    },
  );

  it('never writes the registration token into a log line or the report', async () => {
    // Prepare
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createHandler(ENV)({ instanceIds: [ID(1)] }, undefined);

    // Assess
    expect(aws.operations()).toContain('GetSecretValue');
    expect(aws.written()).not.toContain(TOKEN);
    expect(JSON.stringify(report)).not.toContain(TOKEN);
  });
});

describe('the handler, for an SQS batch of start events', () => {
  it('sets a record that is not a start event aside, reports why, and asks SQS to deliver only it again', async () => {
    // Prepare
    const aws = fakeAws(emptyWorld);
    const event = { Records: [startedRecord(ID(1), 'm-1'), notJson('m-bad')] };

    // Act
    const report = await createHandler(ENV)(event, undefined);

    // Assess
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([
      'SQS message m-bad is not a running-state notification (Records[1].body: is not JSON); it was set aside.',
    ]);
    expect(report.summary).toBe('no fleet hosts to reconcile; 1 run error');
    expect(report.batchItemFailures).toEqual([{ itemIdentifier: 'm-bad' }]);
    expect(aws.logged('SQS record set aside')).toEqual([
      expect.objectContaining({ messageId: 'm-bad', problem: 'Records[1].body: is not JSON' }),
    ]);
  });

  it('asks SQS to deliver nothing again when every record was a start event and the run did its job', async () => {
    // Prepare
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createHandler(ENV)(startBatch([ID(1), ID(2)]), undefined);

    // Assess
    expect(report.ok).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.batchItemFailures).toEqual([]);
    expect(aws.logged('SQS record set aside')).toEqual([]);
  });

  it('asks SQS to deliver again the start of a fleet instance SSM never listed, which no scheduled run can see', async () => {
    // Prepare: EC2 says host 1 is in the fleet (host 2 is not), and SSM lists neither
    const aws = fakeAws({
      ...emptyWorld,
      DescribeTags: () => ({ Tags: [{ ResourceId: ID(1), Key: 'kasm:reconcile', Value: 'true' }] }),
    });
    const event = { Records: [startedRecord(ID(1), 'm-1'), startedRecord(ID(2), 'm-2')] };

    // Act
    const report = await createHandler(ENV)(event, undefined);

    // Assess
    expect(report.ok).toBe(true);
    expect(report.notCheckedIn).toEqual([ID(1)]);
    expect(report.errors).toEqual([
      `1 started fleet instance(s) did not check in with SSM within 0 s; their start notifications go back to the queue to be tried again: ${ID(1)}.`,
    ]);
    expect(report.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    // The run did its job: only the queue's own alarm, after its last try, asks for a person.
    expect(aws.metrics()).toEqual([expect.objectContaining({ RunOk: 1, RunNotOk: 0 })]);
  });

  it('asks SQS to deliver every record again when the run could not do its job', async () => {
    // Prepare: EC2 says host 1 is in the fleet, and SSM denies describing it
    const aws = fakeAws({
      ...emptyWorld,
      DescribeTags: () => ({ Tags: [{ ResourceId: ID(1), Key: 'kasm:reconcile', Value: 'true' }] }),
      DescribeInstanceInformation: undefined,
    });
    const event = { Records: [startedRecord(ID(1), 'm-1'), notJson('m-bad'), startedRecord(ID(2), 'm-2')] };

    // Act
    const report = await createHandler(ENV)(event, undefined);

    // Assess
    expect(report.ok).toBe(false);
    expect(report.batchItemFailures).toEqual([
      { itemIdentifier: 'm-1' },
      { itemIdentifier: 'm-bad' },
      { itemIdentifier: 'm-2' },
    ]);
    expect(aws.metrics()).toEqual([expect.objectContaining({ RunOk: 0, RunNotOk: 1 })]);
  });

  it('warns, and waits for every started instance, when EC2 cannot say which carry the fleet tag', async () => {
    // Prepare
    const aws = fakeAws({ ...emptyWorld, DescribeTags: undefined });

    // Act
    const report = await createHandler(ENV)(startBatch([ID(1)]), undefined);

    // Assess
    expect(aws.logged('asking EC2 for the fleet tag of started instances failed')).toEqual([
      expect.objectContaining({ error: 'AccessDeniedException: not allowed: DescribeTags' }),
    ]);
    expect(report.errors).toEqual([
      'EC2 could not say which started instances carry the fleet tag (AccessDeniedException: not allowed: DescribeTags); every started instance was waited for.',
    ]);
  });
});

describe('the handler, with a Kasm Admin API URL', () => {
  it.each(['KASM_CA_PEM', 'KASM_CA_FILE'])(
    'asks the API whether it is healthy, trusting the CA given in %s',
    async (variable) => {
      // Prepare: an HTTPS Kasm health endpoint whose certificate only the test CA vouches for
      const dir = await mkdtemp(join(tmpdir(), 'ktr-handler-'));
      const tls = await createTlsMaterial(dir);
      const server = createServer({ key: tls.key, cert: tls.cert }, (_, response) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok": true}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      fakeAws(emptyWorld);
      const env = {
        ...ENV,
        KASM_API_URL: `https://127.0.0.1:${port}`,
        [variable]: variable === 'KASM_CA_PEM' ? tls.ca : tls.caFile,
      };

      try {
        // Act
        const report = await createHandler(env)({}, undefined);

        // Assess
        expect(report.kasmApi).toBe('healthy');
        expect(report.errors).toEqual([]);
      } finally {
        server.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

describe('the deployed entry point, for an event typed by hand', () => {
  it('answers an invalid console payload with a report saying why, a log line and a metric, not a function error', async () => {
    // Prepare
    const aws = fakeAws(emptyWorld);

    // Act
    const report = await createLambdaHandler(ENV)({ dryrun: true }, { awsRequestId: 'req-9' });

    // Assess
    expect(report).toMatchObject({
      ok: false,
      rejected: true,
      dryRun: false,
      trigger: 'rejected',
      runId: 'req-9',
      durationMs: 0,
      kasmApi: 'unchecked',
      hosts: [],
      totals: {},
      hostTotals: {},
    });
    expect(report.summary).toMatch(/^Event rejected, nothing was done: Invalid event: dryrun: unknown field/);
    expect(report.errors).toHaveLength(1);
    expect(aws.logged('event rejected')).toHaveLength(1);
    expect(aws.logged('event rejected')[0]?.problem).toBe(report.errors[0]);
    // Counted as a rejected event only: neither a failed run (RunNotOk) nor a successful one.
    const [metrics, ...more] = aws.metrics();
    expect(more).toStrictEqual([]);
    expect(metrics).toMatchObject({ RejectedEvents: 1 });
    expect(metrics).not.toHaveProperty('RunNotOk');
    expect(metrics).not.toHaveProperty('RunOk');
    expect(aws.operations()).toStrictEqual([]);
  });

  it.each(['run', 42, [{ dryRun: true }]])(
    'answers a payload that is no JSON object (%j) with a report saying why, not a function error',
    async (payload) => {
      // Prepare
      const aws = fakeAws(emptyWorld);

      // Act
      const report = await createLambdaHandler(ENV)(payload, { awsRequestId: 'req-10' });

      // Assess
      expect(report).toMatchObject({ ok: false, rejected: true, runId: 'req-10' });
      expect(report.summary).toMatch(/^Event rejected, nothing was done: Invalid event: /);
      expect(aws.operations()).toStrictEqual([]);
    },
  );

  it('still fails an SQS batch that is not one SQS sends, so SQS keeps its messages', async () => {
    // Prepare
    fakeAws(emptyWorld);

    // Act
    const run = createLambdaHandler(ENV)({ Records: [{ eventSource: 'aws:sqs' }] });

    // Assess
    await expect(run).rejects.toThrow(/^Invalid event: Records\[0\]: expected an SQS record/);
  });

  it('runs a valid event exactly as createHandler does', async () => {
    // Prepare
    fakeAws({ ...emptyWorld, DescribeInstanceInformation: fleetOf() });

    // Act
    const report = await createLambdaHandler(ENV)({ dryRun: true });

    // Assess
    expect(report).toMatchObject({ ok: true, dryRun: true, summary: 'Dry run: no fleet hosts to reconcile' });
    expect(report).not.toHaveProperty('rejected');
  });
});
