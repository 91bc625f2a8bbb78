/**
 * A local AWS wire-protocol server for the proving ground: AWS JSON 1.1 over node:http, reached by the
 * unmodified AWS SDK v3 clients (`endpoint` / AWS_ENDPOINT_URL) and the AWS CLI (`--endpoint-url`) with
 * any credentials. SigV4 signatures are accepted unchecked.
 *
 * Requests: `POST /`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: AmazonSSM.<Op>` or
 * `secretsmanager.<Op>` (targetPrefix of each service model); EC2 (DescribeTags) in its Query protocol,
 * `Content-Type: application/x-www-form-urlencoded`, `Action=<Op>&Version=2016-11-15&…`, XML answers
 * (see ec2.ts). The SDK's EC2 client reaches it through AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_EC2.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedCall, SimulatedFleet } from '../types.ts';
import { Ec2Error, Ec2Service } from './ec2.ts';
import { isLambdaRequest, LambdaService } from './lambda.ts';
import { LogsService } from './logs.ts';
import { CloudWatchService, SNS_VERSION, SnsError, SnsService } from './monitoring.ts';
import { ACCOUNT_ID, SecretsService } from './secrets.ts';
import { SsmService } from './ssm/index.ts';
import { MessageDelivery } from './ssm/message-delivery.ts';
import { AwsError, isRecord, serializationError } from './wire.ts';

/**
 * A cancelled invocation is not Cancelled at once: it shows Cancelling ("The command is being
 * cancelled", monitor-commands.html) until the agent has stopped it, so a caller that waits for
 * Cancelled waits a while. Half a second keeps tests quick while still showing the state.
 */
export const DEFAULT_CANCELLING_MS = 500;

export { ACCOUNT_ID, secretArn } from './secrets.ts';

export interface AwsServerOptions {
  fleet: SimulatedFleet;
  /** SSM document name -> parsed JSON content (schemaVersion 2.2). */
  documents: ReadonlyMap<string, object | string>;
  /** Secret name -> SecretString; null = ResourceNotFoundException. */
  secrets: ReadonlyMap<string, string | null>;
  region: string;
  /**
   * Share of calls (0..1) answered with a throttling error / HTTP 500, drawn per request from a PRNG seeded
   * with `seed` (default 1), so a scenario's faults are the same on every run; `throttle`: a token bucket
   * per operation name, shared by every caller, checked first.
   */
  faults?: {
    throttleRate: number;
    serverErrorRate: number;
    seed?: number;
    throttle?: Readonly<Record<string, { ratePerSecond: number; burst: number }>>;
  };
  /** Called for every request that passed throttling and faults, before it is served: tests change the world there. */
  beforeOperation?: (operation: string, input: Readonly<Record<string, unknown>>) => void;
  /** Injectable for deterministic fault tests; one draw per request. Default: the seeded PRNG. */
  random?: () => number;
  /** How long an online node's invocation stays Pending before the agent picks it up. Default 0 ms. */
  deliveryDelayMs?: number | (() => number);
  /** How long a cancelled invocation shows Cancelling before it is Cancelled. Default 500 ms. */
  cancellingMs?: number;
  /** Milliseconds each answer is held back (API latency), drawn per request. Default none. */
  latencyMs?: (operation: string) => number;
  /** How long after SendCommand its invocations stay invisible (eventual consistency). Default 1000 ms. */
  consistencyDelayMs?: number;
  /**
   * The message delivery service real SSM Agents talk to (`hostModel: "agent"`); shared with the fleet,
   * which reads the agents' check-ins from it. Default a new one, used by no agent.
   */
  messageDelivery?: MessageDelivery;
}

export interface AwsServer {
  endpoint: string;
  calls: readonly RecordedCall[];
  close(): Promise<void>;
  /** resolves when every started command invocation is terminal */
  idle(): Promise<void>;
  /** Lambda (REST-JSON) and CloudWatch Logs: functions registered here run on Invoke. */
  lambda: LambdaService;
  logs: LogsService;
  /** CloudWatch alarms and SNS topics (what `ops preflight` reads); tests change them. */
  cloudwatch: CloudWatchService;
  sns: SnsService;
  /** Serves the same endpoint on a Unix socket too (the real agents' relays reach it there). */
  listenUnix(path: string): Promise<void>;
}

type Service = RecordedCall['service'];

const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** The error types each service uses for an HTTP 500 (from the service models). */
const SERVER_ERROR: Record<Service, string> = {
  ssm: 'InternalServerError', // SSM model: InternalServerError, "fault": true
  secretsmanager: 'InternalServiceError', // Secrets Manager model: InternalServiceError, "fault": true
  ec2: 'InternalError', // EC2 common server error: InternalError, HTTP 500 (EC2 API reference, errors-overview)
  logs: 'ServiceUnavailableException', // CloudWatch Logs model: ServiceUnavailableException, "fault": true
  lambda: 'ServiceException', // Lambda model: ServiceException, HTTP 500
  ec2messages: 'InternalServerError', // the agent retries any 5xx (agent/runcommand/mds/service.go)
  monitoring: 'InternalServiceFault', // CloudWatch model: InternalServiceFault, HTTP 500
  sns: 'InternalError', // SNS model: InternalError, HTTP 500
};

/** SSM operations only an SSM Agent calls: its check-in and its association poll. */
const AGENT_SSM_OPERATIONS = new Set(['UpdateInstanceInformation', 'ListInstanceAssociations']);

/** Default of `consistencyDelayMs`: a second, like the reports in aws-cli#3546 and aws-sdk#190. */
export const DEFAULT_CONSISTENCY_DELAY_MS = 1000;

type Outcome = { status: number; errorType?: string };

/** Every request the endpoint gets, routed to the service it is for, recorded with its outcome. */
class AwsRouter {
  readonly calls: RecordedCall[] = [];
  readonly mds: MessageDelivery;
  readonly ssm: SsmService;
  readonly cloudwatch: CloudWatchService;
  readonly sns = new SnsService(ACCOUNT_ID);
  readonly logs = new LogsService();
  readonly lambda: LambdaService;
  private readonly random: () => number;
  private readonly buckets: TokenBuckets;
  private readonly secrets: SecretsService;
  private readonly ec2: Ec2Service;

  constructor(private readonly options: AwsServerOptions) {
    this.random = options.random ?? seededRandom(options.faults?.seed ?? 1);
    this.buckets = new TokenBuckets(options.faults?.throttle ?? {});
    this.mds = options.messageDelivery ?? new MessageDelivery(options.region);
    this.ssm = new SsmService({
      messageDelivery: this.mds,
      fleet: options.fleet,
      documents: options.documents,
      region: options.region,
      deliveryDelayMs: options.deliveryDelayMs ?? 0,
      cancellingMs: options.cancellingMs ?? DEFAULT_CANCELLING_MS,
      consistencyDelayMs: options.consistencyDelayMs ?? DEFAULT_CONSISTENCY_DELAY_MS,
    });
    this.secrets = new SecretsService({ secrets: options.secrets, region: options.region });
    this.ec2 = new Ec2Service(options.fleet);
    this.lambda = new LambdaService({ region: options.region, account: ACCOUNT_ID, logs: this.logs });
    this.cloudwatch = new CloudWatchService(options.region, ACCOUNT_ID);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (isLambdaRequest(req.url)) return this.lambdaRequest(req, res, body);
    const target = header(req, 'x-amz-target');
    if (
      target === undefined &&
      (header(req, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded')
    )
      return this.queryRequest(req, res, body);
    return this.jsonRequest(req, res, body, target);
  }

  private async lambdaRequest(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    // Lambda speaks REST-JSON (the operation is in the method and path); no injected faults.
    const reply = await this.lambda.handle(req.method ?? 'GET', req.url ?? '', lowerCaseHeaders(req), body);
    res.writeHead(reply.status, { ...reply.headers, 'x-amzn-requestid': randomUUID() });
    res.end(reply.body);
    this.calls.push({
      service: 'lambda',
      operation: reply.operation,
      params: body,
      at: new Date().toISOString(),
      status: reply.status,
      ...(reply.errorType === undefined ? {} : { errorType: reply.errorType }),
    });
  }

  /** EC2 and SNS speak the Query protocol. */
  private async queryRequest(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const form = new URLSearchParams(body);
    await hold(this.options.latencyMs?.(form.get('Action') ?? ''));
    // Both speak the Query protocol: the credential scope (or the API version) says which.
    const isSns = scopeService(header(req, 'authorization')) === 'sns' || form.get('Version') === SNS_VERSION;
    const outcome = isSns ? this.snsRequest(form, res) : this.ec2Request(form, res);
    this.calls.push({
      service: isSns ? 'sns' : 'ec2',
      operation: form.get('Action') ?? '',
      params: Object.fromEntries(form),
      at: new Date().toISOString(),
      ...outcome,
    });
  }

  private ec2Request(form: URLSearchParams, res: ServerResponse): Outcome {
    const requestId = randomUUID();
    const action = form.get('Action') ?? '';
    try {
      const fault = this.buckets.take(action)
        ? drawFault(this.options.faults, this.random, 'ec2')
        : new AwsError('RequestLimitExceeded', 503, 'Request limit exceeded.');
      if (fault !== undefined) throw new Ec2Error(fault.type, fault.status, fault.message);
      const xml = this.ec2.handle(action, form, requestId);
      // EC2's answer for an Action it does not have (EC2 common client errors: InvalidAction).
      if (xml === undefined)
        throw new Ec2Error('InvalidAction', 400, `The action ${action} is not valid for this web service.`);
      sendXml(res, 200, xml, requestId);
      return { status: 200 };
    } catch (error) {
      const e =
        error instanceof Ec2Error
          ? error
          : new Ec2Error('InternalError', 500, 'An internal error has occurred.');
      sendXml(res, e.status, e.xml(requestId), requestId);
      return { status: e.status, errorType: e.code };
    }
  }

  private snsRequest(form: URLSearchParams, res: ServerResponse): Outcome {
    const requestId = randomUUID();
    try {
      const fault = drawFault(this.options.faults, this.random, 'sns');
      if (fault !== undefined) throw new SnsError(fault.type, fault.status, fault.message);
      const xml = this.sns.handle(form.get('Action') ?? '', form, requestId);
      // The Query protocol's answer for an Action the service does not have.
      if (xml === undefined)
        throw new SnsError('InvalidAction', 400, `Unrecognized action: ${form.get('Action') ?? ''}`);
      sendXml(res, 200, xml, requestId);
      return { status: 200 };
    } catch (error) {
      const e = error instanceof SnsError ? error : new SnsError('InternalError', 500, 'Internal Error');
      sendXml(res, e.status, e.xml(requestId), requestId);
      return { status: e.status, errorType: e.code };
    }
  }

  /** The JSON 1.1 services: SSM, Secrets Manager, CloudWatch Logs, CloudWatch, and the agents' ec2messages. */
  private async jsonRequest(
    req: IncomingMessage,
    res: ServerResponse,
    body: string,
    target: string | undefined,
  ): Promise<void> {
    const routed = route(target, header(req, 'authorization'));
    let params: unknown = body;
    let status = 200;
    let errorType: string | undefined;
    let responseBody = '';
    try {
      params = parseJson(body);
      if (routed.operation === undefined) {
        // What an AWS JSON endpoint answers for an X-Amz-Target it does not know: HTTP 400 and a body of
        // only `{"__type":"UnknownOperationException"}`, as observed from real JSON 1.1 services
        // (github.com/aws/aws-sdk-net/issues/1536, github.com/aws-amplify/aws-sdk-android/issues/2206).
        // The generic list at https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html
        // gives 404 for it; we follow the observed 400.
        throw new AwsError('UnknownOperationException', 400);
      }
      const input = isRecord(params) ? params : {};
      // The agents' own calls (message delivery, check-in) are the hosts' side, not the product's: the
      // scenario's throttling and fault rates are about the product's calls, so these never draw.
      const agentSide = routed.service === 'ec2messages' || AGENT_SSM_OPERATIONS.has(routed.operation);
      if (!agentSide) {
        // Decided before any work: a throttled or faulted call has no side effect.
        const throttled = !this.buckets.take(routed.operation);
        if (throttled) throw new AwsError('ThrottlingException', 400, 'Rate exceeded', 'message');
        const fault = drawFault(this.options.faults, this.random, routed.service);
        if (fault !== undefined) throw fault;
        this.options.beforeOperation?.(routed.operation, input);
      }
      const result = await this.dispatch(routed.service, routed.operation, input);
      if (result === undefined) throw new AwsError('UnknownOperationException', 400); // see above
      await hold(this.options.latencyMs?.(routed.operation));
      responseBody = send(res, 200, result);
    } catch (error) {
      const awsError =
        error instanceof AwsError
          ? error
          : new AwsError(SERVER_ERROR[routed.service], 500, 'An error occurred on the server side.');
      status = awsError.status;
      errorType = awsError.type;
      await hold(this.options.latencyMs?.(routed.operation ?? ''));
      // A Query-compatible service (CloudWatch) adds the Query error code for older clients.
      const queryError = (awsError as { queryError?: string }).queryError;
      responseBody = send(res, awsError.status, awsError.body(), awsError.type, queryError);
    } finally {
      const call: RecordedCall = {
        service: routed.service,
        operation: routed.operation ?? target ?? '',
        params,
        at: new Date().toISOString(),
        status,
        ...(errorType === undefined ? {} : { errorType }),
        requestBody: body,
        responseBody,
      };
      this.calls.push(call);
    }
  }

  /** The service's answer to one JSON operation; undefined for an operation it does not have. */
  private async dispatch(
    service: Service,
    operation: string,
    input: Record<string, unknown>,
  ): Promise<unknown> {
    switch (service) {
      case 'ec2messages':
        return this.mds.handle(operation, input);
      case 'ssm':
        return this.mds.handleSsm(operation, input) ?? this.ssm.handle(operation, input);
      case 'logs':
        return this.logs.handle(operation, input);
      case 'monitoring':
        return this.cloudwatch.handle(operation, input);
      default:
        return this.secrets.handle(operation, input);
    }
  }
}

export async function startAwsServer(options: AwsServerOptions): Promise<AwsServer> {
  const router = new AwsRouter(options);
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    router.handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { __type: 'InternalFailure' }, 'InternalFailure');
    });
  };
  const server = createServer(listener);
  server.keepAliveTimeout = 1000;
  const unixServers: Server[] = [];
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: router.calls,
    idle: () => router.ssm.idle(),
    lambda: router.lambda,
    logs: router.logs,
    cloudwatch: router.cloudwatch,
    sns: router.sns,
    listenUnix: async (path) => {
      const unix = createServer(listener);
      unixServers.push(unix);
      await new Promise<void>((resolve, reject) => {
        unix.once('error', reject);
        unix.listen(path, () => resolve());
      });
    },
    close: async () => {
      router.ssm.close();
      router.mds.close();
      await Promise.all(
        [server, ...unixServers].map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
    },
  };
}

// ------------------------------------------------------------------------------------------------

function route(
  target: string | undefined,
  authorization: string | undefined,
): { service: Service; operation?: string } {
  if (target?.startsWith('AmazonSSM.'))
    return { service: 'ssm', operation: target.slice('AmazonSSM.'.length) };
  // The message delivery service (endpoint ec2messages), as the SSM Agent calls it (ssmmds in its SDK fork).
  if (target?.startsWith('EC2WindowsMessageDeliveryService.')) {
    return { service: 'ec2messages', operation: target.slice('EC2WindowsMessageDeliveryService.'.length) };
  }
  if (target?.startsWith('Logs_20140328.'))
    return { service: 'logs', operation: target.slice('Logs_20140328.'.length) };
  // CloudWatch's JSON 1.0 target prefix (its Smithy service name).
  if (target?.startsWith('GraniteServiceVersion20100801.')) {
    return { service: 'monitoring', operation: target.slice('GraniteServiceVersion20100801.'.length) };
  }
  if (target?.startsWith('secretsmanager.')) {
    return { service: 'secretsmanager', operation: target.slice('secretsmanager.'.length) };
  }
  // Unknown target prefix: attribute the call by the SigV4 credential scope (…/<region>/<service>/aws4_request).
  return { service: scopeService(authorization) === 'secretsmanager' ? 'secretsmanager' : 'ssm' };
}

/** The service of a SigV4 credential scope (…/<date>/<region>/<service>/aws4_request). */
function scopeService(authorization: string | undefined): string | undefined {
  return /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization ?? '')?.[1];
}

/**
 * Fault injection. Throttling is what the API gateway in front of every AWS service answers, HTTP 400
 * `{"__type":"ThrottlingException","message":"Rate exceeded"}`
 * (https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html - ThrottlingException,
 * HTTP Status Code 400); a server error is the service's own 500 fault type.
 */
function drawFault(
  faults: AwsServerOptions['faults'],
  random: () => number,
  service: Service,
): AwsError | undefined {
  if (faults === undefined || (faults.throttleRate <= 0 && faults.serverErrorRate <= 0)) return undefined;
  const r = random();
  if (r < faults.throttleRate) {
    // EC2 throttles with RequestLimitExceeded, HTTP 503
    // (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
    if (service === 'ec2') return new AwsError('RequestLimitExceeded', 503, 'Request limit exceeded.');
    return new AwsError('ThrottlingException', 400, 'Rate exceeded', 'message');
  }
  if (r < faults.throttleRate + faults.serverErrorRate) {
    if (service === 'ec2') return new AwsError('InternalError', 500, 'An internal error has occurred.');
    return new AwsError(SERVER_ERROR[service], 500, 'An error occurred on the server side.');
  }
  return undefined;
}

/**
 * AWS rate limits are token buckets per API, per account and region, shared by every caller: a burst
 * capacity refilled at a sustained rate ("Request throttling", e.g.
 * https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html; the SSM and Secrets Manager
 * quotas work the same way, numbers unpublished - test/proving-ground/README.md, "Throttling"). One bucket per operation name.
 */
export class TokenBuckets {
  private readonly state = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly limits: Readonly<Record<string, { ratePerSecond: number; burst: number }>>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `operation`; false when its bucket is empty (the call is throttled). */
  take(operation: string): boolean {
    const limit = this.limits[operation];
    if (limit === undefined) return true;
    const t = this.now();
    const s = this.state.get(operation) ?? { tokens: limit.burst, at: t };
    s.tokens = Math.min(limit.burst, s.tokens + ((t - s.at) / 1000) * limit.ratePerSecond);
    s.at = t;
    this.state.set(operation, s);
    if (s.tokens < 1) return false;
    s.tokens -= 1;
    return true;
  }
}

/** mulberry32: a small seeded PRNG, so fault injection draws the same sequence on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Holds an answer back `ms` (API latency); nothing for undefined or 0. */
function hold(ms: number | undefined): Promise<void> | undefined {
  return ms ? new Promise((resolve) => setTimeout(resolve, ms)) : undefined;
}

function sendXml(res: ServerResponse, status: number, xml: string, requestId: string): void {
  res.writeHead(status, {
    'content-type': 'text/xml;charset=UTF-8',
    'content-length': Buffer.byteLength(xml),
    'x-amzn-requestid': requestId,
  });
  res.end(xml);
}

function parseJson(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(body);
    if (!isRecord(parsed)) throw serializationError('The request body must be a JSON object');
    return parsed;
  } catch (error) {
    if (error instanceof AwsError) throw error;
    throw serializationError('The request body is not valid JSON');
  }
}

/** Writes the reply and returns its body as sent. */
function send(
  res: ServerResponse,
  status: number,
  payload: unknown,
  errorType?: string,
  queryError?: string,
): string {
  const text = JSON.stringify(payload);
  const headers: Record<string, string | number> = {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  };
  if (errorType !== undefined) headers['x-amzn-errortype'] = errorType;
  if (queryError !== undefined) headers['x-amzn-query-error'] = queryError;
  res.writeHead(status, headers);
  res.end(text);
  return text;
}

function lowerCaseHeaders(req: IncomingMessage): Record<string, string | undefined> {
  return Object.fromEntries(Object.keys(req.headers).map((name) => [name, header(req, name)]));
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
