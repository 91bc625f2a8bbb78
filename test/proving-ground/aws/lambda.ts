/**
 * AWS Lambda for the proving ground: `Invoke` and `GetFunctionConfiguration` in Lambda's
 * REST-JSON protocol (botocore `lambda/2015-03-31/service-2.json`):
 * - `POST /2015-03-31/functions/{FunctionName}/invocations`, body = the event, header
 *   `X-Amz-Invocation-Type` (RequestResponse by default; Event answers 202 and runs in the
 *   background); 200 with the result as body, or with `X-Amz-Function-Error: Unhandled` and
 *   `{"errorType","errorMessage","trace"}` when the handler throws; `X-Amz-Log-Type: Tail`
 *   adds the last 4 KB of the run's log, base64, in `X-Amz-Log-Result`.
 * - `GET /2015-03-31/functions/{FunctionName}/configuration`: name, ARN, timeout and
 *   `LoggingConfig.LogGroup`.
 * Errors: HTTP status of the error shape, header `x-amzn-errortype`, body `{"Type","Message"}`
 * (`message` for TooManyRequestsException, as its shape declares). A function with reserved
 * concurrency 1 that is already running answers 429 TooManyRequestsException, Reason
 * ReservedFunctionConcurrentInvocationLimitExceeded.
 *
 * Every run writes its log to a CloudWatch Logs stream the fake Logs serves, line by line as the
 * function writes it (stdout and stderr alike, as Lambda captures both), framed by the runtime's
 * START / END / REPORT lines.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { LogsService } from './logs.ts';

/**
 * What a registered function does with one event: resolves the result or rejects the error. Lines it
 * hands to `context.log` reach the log group as they are written (as a running function's do, so a
 * reader can follow a run); `logLines` are appended at the end.
 */
export type FunctionRun = (
  event: unknown,
  context: {
    readonly awsRequestId: string;
    readonly getRemainingTimeInMillis: () => number;
    readonly log: (line: string) => void;
  },
) => Promise<{ readonly result: unknown; readonly logLines: readonly string[] }>;

export interface FakeFunction {
  readonly name: string;
  readonly logGroupName: string;
  readonly timeoutSeconds: number;
  readonly reservedConcurrency?: number;
  /** Its environment variables, as GetFunctionConfiguration lists them (`Environment.Variables`). */
  readonly environment?: Readonly<Record<string, string>>;
  readonly run: FunctionRun;
}

export interface LambdaReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly operation: string;
  readonly errorType?: string;
}

const PATH = /^\/2015-03-31\/functions\/([^/]+)\/(invocations|configuration)$/;

export function isLambdaRequest(url: string | undefined): boolean {
  return PATH.test((url ?? '').split('?')[0] ?? '');
}

/** Thrown by a run when the handler failed; carries what the runtime reports. */
export class FunctionFailure extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly trace: readonly string[],
    readonly logLines: readonly string[],
  ) {
    super(message);
  }
}

export class LambdaService {
  readonly #functions = new Map<string, FakeFunction>();
  readonly #running = new Map<string, number>();
  readonly #region: string;
  readonly #account: string;
  readonly #logs: LogsService;
  readonly #background = new Set<Promise<unknown>>();

  constructor(options: { region: string; account: string; logs: LogsService }) {
    this.#region = options.region;
    this.#account = options.account;
    this.#logs = options.logs;
  }

  register(fn: FakeFunction): void {
    this.#functions.set(fn.name, fn);
    this.#logs.createLogGroup(fn.logGroupName);
  }

  /** Resolves when every background (Event) invocation has finished. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#background]);
  }

  async handle(
    method: string,
    url: string,
    headers: Record<string, string | undefined>,
    body: string,
  ): Promise<LambdaReply> {
    const match = PATH.exec(url.split('?')[0] ?? '');
    const [, rawName = '', resource] = match ?? [];
    const operation = resource === 'configuration' ? 'GetFunctionConfiguration' : 'Invoke';
    const fn = this.#functions.get(this.#nameOf(decodeURIComponent(rawName)));
    if (!fn) {
      return error(
        operation,
        404,
        'ResourceNotFoundException',
        'Message',
        `Function not found: ${this.#arn(decodeURIComponent(rawName))}`,
      );
    }
    if (operation === 'GetFunctionConfiguration') {
      if (method !== 'GET')
        return error(operation, 404, 'UnknownOperationException', 'Message', 'Unknown operation');
      return json(operation, 200, {
        FunctionName: fn.name,
        FunctionArn: this.#arn(fn.name),
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Timeout: fn.timeoutSeconds,
        State: 'Active',
        LoggingConfig: { LogFormat: 'Text', LogGroup: fn.logGroupName },
        ...(fn.environment ? { Environment: { Variables: fn.environment } } : {}),
      });
    }
    if (method !== 'POST')
      return error(operation, 404, 'UnknownOperationException', 'Message', 'Unknown operation');
    let event: unknown;
    try {
      event = body.trim() === '' ? {} : JSON.parse(body);
    } catch {
      return error(
        operation,
        400,
        'InvalidRequestContentException',
        'message',
        'Could not parse request body into json: Could not parse payload into json',
      );
    }
    const running = this.#running.get(fn.name) ?? 0;
    if (fn.reservedConcurrency !== undefined && running >= fn.reservedConcurrency) {
      return {
        ...json(operation, 429, {
          Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
          Type: 'User',
          message: 'Rate Exceeded.',
        }),
        headers: { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException' },
        errorType: 'TooManyRequestsException',
      };
    }
    const invocationType = headers['x-amz-invocation-type'] ?? 'RequestResponse';
    const run = this.#invoke(fn, event);
    if (invocationType === 'Event') {
      const background = run.catch(() => undefined);
      this.#background.add(background);
      void background.finally(() => this.#background.delete(background));
      return { operation, status: 202, headers: { 'content-type': 'application/json' }, body: '' };
    }
    const outcome = await run;
    const replyHeaders: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': '$LATEST',
    };
    if (headers['x-amz-log-type'] === 'Tail') {
      const tail = Buffer.from(outcome.log.join('\n')).subarray(-4096);
      replyHeaders['x-amz-log-result'] = tail.toString('base64');
    }
    if (outcome.failure) {
      replyHeaders['x-amz-function-error'] = 'Unhandled';
      return { operation, status: 200, headers: replyHeaders, body: JSON.stringify(outcome.failure) };
    }
    return { operation, status: 200, headers: replyHeaders, body: JSON.stringify(outcome.result ?? null) };
  }

  async #invoke(
    fn: FakeFunction,
    event: unknown,
  ): Promise<{ result?: unknown; failure?: object; log: string[] }> {
    this.#running.set(fn.name, (this.#running.get(fn.name) ?? 0) + 1);
    const requestId = randomUUID();
    const started = Date.now();
    const deadline = started + fn.timeoutSeconds * 1000;
    const day = new Date(started).toISOString().slice(0, 10).replace(/-/g, '/');
    const stream = `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const log: string[] = [];
    const write = (line: string) => {
      log.push(line);
      this.#logs.append(fn.logGroupName, stream, [line], Date.now());
    };
    write(`START RequestId: ${requestId} Version: $LATEST`);
    try {
      const { result, logLines } = await fn.run(event, {
        awsRequestId: requestId,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        log: write,
      });
      for (const line of logLines) write(line);
      return { result, log };
    } catch (thrown) {
      const failure =
        thrown instanceof FunctionFailure ? thrown : new FunctionFailure('Error', String(thrown), [], []);
      const payload = { errorType: failure.errorType, errorMessage: failure.message, trace: failure.trace };
      for (const line of failure.logLines) write(line);
      // What the Node.js runtime logs for an unhandled error (text log format).
      write(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(payload)}`);
      return { failure: payload, log };
    } finally {
      this.#running.set(fn.name, (this.#running.get(fn.name) ?? 1) - 1);
      const ms = Date.now() - started;
      write(`END RequestId: ${requestId}`);
      write(
        `REPORT RequestId: ${requestId}\tDuration: ${ms.toFixed(2)} ms\tBilled Duration: ${Math.ceil(ms)} ms\tMemory Size: 512 MB\tMax Memory Used: 128 MB`,
      );
    }
  }

  /** A name, a full ARN or a partial ARN (ACCOUNT:function:NAME) names the same function. */
  #nameOf(nameOrArn: string): string {
    const m = /(?:^|:)function:([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
    return m?.[1] ?? nameOrArn;
  }

  #arn(name: string): string {
    return name.startsWith('arn:')
      ? name
      : `arn:aws:lambda:${this.#region}:${this.#account}:function:${this.#nameOf(name)}`;
  }
}

function json(operation: string, status: number, payload: unknown): LambdaReply {
  return {
    operation,
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  };
}

function error(
  operation: string,
  status: number,
  type: string,
  messageKey: 'Message' | 'message',
  message: string,
): LambdaReply {
  return {
    operation,
    status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': type },
    body: JSON.stringify({ Type: 'User', [messageKey]: message }),
    errorType: type,
  };
}
