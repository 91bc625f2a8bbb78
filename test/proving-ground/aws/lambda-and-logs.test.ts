/**
 * The proving ground's Lambda (REST-JSON) and CloudWatch Logs (JSON 1.1), reached by the
 * real SDK clients the operator CLI uses.
 */
import { CloudWatchLogsClient, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { lastRunReport } from '../../../infra/ops/last-run.ts';
import { FunctionFailure } from './lambda.ts';
import type { AwsServer } from './server.ts';
import { CREDENTIALS, REGION, rawCall, rejection, ShellFleet, serversPerTest } from './testkit.ts';

const startServer = serversPerTest();

async function setUp(): Promise<{ server: AwsServer; lambda: LambdaClient; logs: CloudWatchLogsClient }> {
  const server = await startServer(new ShellFleet([]));
  const config = { endpoint: server.endpoint, region: REGION, credentials: CREDENTIALS, maxAttempts: 1 };
  return { server, lambda: new LambdaClient(config), logs: new CloudWatchLogsClient(config) };
}

const decode = (payload?: Uint8Array) => JSON.parse(new TextDecoder().decode(payload)) as unknown;

describe('Lambda Invoke and GetFunctionConfiguration', () => {
  it('runs the registered function with the event and answers its result, logging the run framed by START, END and REPORT', async () => {
    // Prepare
    const { server, lambda, logs } = await setUp();
    server.lambda.register({
      name: 'fn',
      logGroupName: 'fn-logs',
      timeoutSeconds: 900,
      run: async (event, context) => ({
        result: { echoed: event, remaining: context.getRemainingTimeInMillis() > 890_000 },
        logLines: ['{"message":"hello"}'],
      }),
    });

    // Act
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'fn', Payload: new TextEncoder().encode('{"dryRun":true}') }),
    );
    const events = await logs.send(new FilterLogEventsCommand({ logGroupName: 'fn-logs' }));
    const configuration = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'fn' }));

    // Assess
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBeUndefined();
    expect(decode(out.Payload)).toStrictEqual({ echoed: { dryRun: true }, remaining: true });
    expect(events.events?.map((e) => e.message?.split(' ')[0])).toStrictEqual([
      'START',
      '{"message":"hello"}',
      'END',
      'REPORT',
    ]);
    expect(configuration).toMatchObject({
      FunctionName: 'fn',
      Timeout: 900,
      LoggingConfig: { LogGroup: 'fn-logs' },
    });
  });

  it('answers a handler error as Unhandled with errorType and errorMessage, and logs the runtime Invoke Error line', async () => {
    // Prepare
    const { server, lambda, logs } = await setUp();
    server.lambda.register({
      name: 'fn',
      logGroupName: 'fn-logs',
      timeoutSeconds: 900,
      run: async () => {
        throw new FunctionFailure('InvalidEventError', 'Invalid event: bogus: unknown field', ['at x'], []);
      },
    });

    // Act
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'fn', Payload: new TextEncoder().encode('{"bogus":1}') }),
    );
    const errors = await logs.send(
      new FilterLogEventsCommand({ logGroupName: 'fn-logs', filterPattern: '"Invoke Error"' }),
    );

    // Assess
    expect(out.FunctionError).toBe('Unhandled');
    expect(decode(out.Payload)).toStrictEqual({
      errorType: 'InvalidEventError',
      errorMessage: 'Invalid event: bogus: unknown field',
      trace: ['at x'],
    });
    expect(errors.events).toHaveLength(1);
  });

  it('refuses a second run while one is in progress under reserved concurrency 1, as TooManyRequestsException', async () => {
    // Prepare
    const { server, lambda } = await setUp();
    let release: () => void = () => undefined;
    server.lambda.register({
      name: 'fn',
      logGroupName: 'fn-logs',
      timeoutSeconds: 900,
      reservedConcurrency: 1,
      run: () =>
        new Promise((resolve) => {
          release = () => resolve({ result: null, logLines: [] });
        }),
    });
    const first = lambda.send(new InvokeCommand({ FunctionName: 'fn' }));
    await new Promise((r) => setTimeout(r, 100));

    // Act
    const error = await rejection(lambda.send(new InvokeCommand({ FunctionName: 'fn' })));
    release();

    // Assess
    expect(error.name).toBe('TooManyRequestsException');
    expect((error as unknown as { Reason: string }).Reason).toBe(
      'ReservedFunctionConcurrentInvocationLimitExceeded',
    );
    expect((await first).StatusCode).toBe(200);
  });

  it('answers an unknown function with ResourceNotFoundException naming its ARN', async () => {
    // Prepare
    const { lambda } = await setUp();

    // Act
    const error = await rejection(lambda.send(new InvokeCommand({ FunctionName: 'missing' })));

    // Assess
    expect(error.name).toBe('ResourceNotFoundException');
    expect(error.message).toBe('Function not found: arn:aws:lambda:eu-west-1:123456789012:function:missing');
  });
});

describe('CloudWatch Logs FilterLogEvents', () => {
  it('matches JSON filter patterns only against JSON events, in time order across streams, page by page', async () => {
    // Prepare
    const { server, logs } = await setUp();
    server.logs.append('g', 's1', ['{"message":"run report","runId":"a"}', 'START RequestId: x'], 1000);
    server.logs.append('g', 's2', ['{"message":"run report","runId":"b"}', '{"message":"other"}'], 500);

    // Act
    const first = await logs.send(
      new FilterLogEventsCommand({
        logGroupName: 'g',
        filterPattern: '{ $.message = "run report" }',
        limit: 1,
      }),
    );
    const second = await logs.send(
      new FilterLogEventsCommand({
        logGroupName: 'g',
        filterPattern: '{ $.message = "run report" }',
        limit: 1,
        nextToken: first.nextToken,
      }),
    );
    const both = await logs.send(
      new FilterLogEventsCommand({
        logGroupName: 'g',
        filterPattern: '{ $.message = "run*" && $.runId != "b" }',
      }),
    );

    // Assess
    expect(first.events?.map((e) => [e.logStreamName, e.timestamp])).toStrictEqual([['s2', 500]]);
    expect(first.nextToken).toBeDefined();
    expect(second.events?.map((e) => e.logStreamName)).toStrictEqual(['s1']);
    expect(second.nextToken).toBeUndefined();
    expect(both.events?.map((e) => JSON.parse(e.message ?? '{}').runId)).toStrictEqual(['a']);
  });

  it('answers a pattern it cannot model, and an unknown log group, with the errors CloudWatch Logs uses', async () => {
    // Prepare
    const { server } = await setUp();
    server.logs.createLogGroup('g');

    // Act
    const pattern = await rawCall(server, 'Logs_20140328.FilterLogEvents', {
      logGroupName: 'g',
      filterPattern: '{ ($.a = 1) }',
    });
    const group = await rawCall(server, 'Logs_20140328.FilterLogEvents', { logGroupName: 'nope' });

    // Assess
    expect(pattern).toMatchObject({ status: 400, json: { __type: 'InvalidParameterException' } });
    expect(group).toMatchObject({
      status: 400,
      json: { __type: 'ResourceNotFoundException', message: 'The specified log group does not exist.' },
    });
  });
});

describe('lastRunReport', () => {
  it('takes the latest report and puts a report logged in parts back together, hosts in order', async () => {
    // Prepare
    const { server, logs } = await setUp();
    const now = Date.now();
    const head = (runId: string, hostParts?: number) =>
      JSON.stringify({
        message: 'run report',
        runId,
        report: { summary: runId, ok: true, runId, hosts: [], ...(hostParts ? { hostParts } : {}) },
      });
    const part = (runId: string, n: number, id: string) =>
      JSON.stringify({
        message: 'run report hosts',
        runId,
        part: n,
        of: 2,
        hosts: [{ instanceId: id, components: [] }],
      });
    server.logs.append('g', 's1', [head('old')], now - 60_000);
    server.logs.append('g', 's2', [head('new', 2), part('new', 2, 'i-2'), part('new', 1, 'i-1')], now - 1000);

    // Act
    const report = await lastRunReport(logs, 'g', { sinceHours: 1, now });

    // Assess
    expect(report).toMatchObject({ summary: 'new', runId: 'new' });
    expect(report.hosts.map((h) => h.instanceId)).toStrictEqual(['i-1', 'i-2']);
    expect('hostParts' in report).toBe(false);
  });
});
