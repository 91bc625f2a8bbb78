/**
 * A local AWS wire-protocol server for the proving ground: AWS JSON 1.1 over node:http, reached by the
 * unmodified AWS SDK v3 clients (`endpoint` / AWS_ENDPOINT_URL) and the AWS CLI (`--endpoint-url`) with
 * any credentials. SigV4 signatures are accepted unchecked.
 *
 * Requests: `POST /`, `Content-Type: application/x-amz-json-1.1`, `X-Amz-Target: AmazonSSM.<Op>` or
 * `secretsmanager.<Op>` (targetPrefix of each service model).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedCall, SimulatedFleet } from '../types.ts';
import { SecretsService } from './secrets.ts';
import { SsmService } from './ssm.ts';
import { AwsError, isRecord, serializationError } from './wire.ts';

export { ACCOUNT_ID, secretArn } from './secrets.ts';

export interface AwsServerOptions {
  fleet: SimulatedFleet;
  /** SSM document name -> parsed JSON content (schemaVersion 2.2). */
  documents: ReadonlyMap<string, object>;
  /** Secret name -> SecretString; null = ResourceNotFoundException. */
  secrets: ReadonlyMap<string, string | null>;
  region: string;
  /** Share of calls (0..1) answered with ThrottlingException / HTTP 500, drawn per request. */
  faults?: { throttleRate: number; serverErrorRate: number };
  /** Injectable for deterministic fault tests; one draw per request. Default Math.random. */
  random?: () => number;
  /** How long an offline node's invocation stays Pending before it ends Undeliverable. Default 1000 ms. */
  undeliverableAfterMs?: number;
  /** How long an online node's invocation stays Pending before the agent picks it up. Default 0 ms. */
  deliveryDelayMs?: number;
}

export interface AwsServer {
  endpoint: string;
  calls: readonly RecordedCall[];
  close(): Promise<void>;
  /** resolves when every started command invocation is terminal */
  idle(): Promise<void>;
}

type Service = RecordedCall['service'];

const CONTENT_TYPE = 'application/x-amz-json-1.1';

/** The error types each service uses for an HTTP 500 (from the service models). */
const SERVER_ERROR: Record<Service, string> = {
  ssm: 'InternalServerError', // SSM model: InternalServerError, "fault": true
  secretsmanager: 'InternalServiceError', // Secrets Manager model: InternalServiceError, "fault": true
};

export async function startAwsServer(options: AwsServerOptions): Promise<AwsServer> {
  const calls: RecordedCall[] = [];
  const random = options.random ?? Math.random;
  const ssm = new SsmService({
    fleet: options.fleet,
    documents: options.documents,
    region: options.region,
    undeliverableAfterMs: options.undeliverableAfterMs ?? 1000,
    deliveryDelayMs: options.deliveryDelayMs ?? 0,
  });
  const secrets = new SecretsService({ secrets: options.secrets, region: options.region });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const target = header(req, 'x-amz-target');
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
      const fault = drawFault(options.faults, random, routed.service);
      if (fault !== undefined) throw fault; // decided before any work: a faulted call has no side effect
      const input = isRecord(params) ? params : {};
      const result =
        routed.service === 'ssm'
          ? ssm.handle(routed.operation, input)
          : secrets.handle(routed.operation, input);
      if (result === undefined) throw new AwsError('UnknownOperationException', 400); // see above
      responseBody = send(res, 200, result);
    } catch (error) {
      const awsError =
        error instanceof AwsError
          ? error
          : new AwsError(SERVER_ERROR[routed.service], 500, 'An error occurred on the server side.');
      status = awsError.status;
      errorType = awsError.type;
      responseBody = send(res, awsError.status, awsError.body(), awsError.type);
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
      calls.push(call);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { __type: 'InternalFailure' }, 'InternalFailure');
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    idle: () => ssm.idle(),
    close: async () => {
      ssm.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
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
  if (target?.startsWith('secretsmanager.')) {
    return { service: 'secretsmanager', operation: target.slice('secretsmanager.'.length) };
  }
  // Unknown target prefix: attribute the call by the SigV4 credential scope (…/<region>/<service>/aws4_request).
  const scope = /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(authorization ?? '');
  return { service: scope?.[1] === 'secretsmanager' ? 'secretsmanager' : 'ssm' };
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
  if (r < faults.throttleRate) return new AwsError('ThrottlingException', 400, 'Rate exceeded', 'message');
  if (r < faults.throttleRate + faults.serverErrorRate) {
    return new AwsError(SERVER_ERROR[service], 500, 'An error occurred on the server side.');
  }
  return undefined;
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
function send(res: ServerResponse, status: number, payload: unknown, errorType?: string): string {
  const text = JSON.stringify(payload);
  const headers: Record<string, string | number> = {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  };
  if (errorType !== undefined) headers['x-amzn-errortype'] = errorType;
  res.writeHead(status, headers);
  res.end(text);
  return text;
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
