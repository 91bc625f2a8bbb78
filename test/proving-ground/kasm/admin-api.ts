/**
 * A simulated Kasm Admin API over HTTPS (self-signed CA), issuing real RS256 JWTs.
 *
 * Endpoints (all JSON):
 * - `GET  /api/__healthcheck`: 200 `{"ok": true}`, or 503 `{"ok": false}` while unhealthy.
 * - `POST /api/admin/refresh_token` `{"token": "<jwt>"}` (or `Authorization: Bearer <jwt>`):
 *   200 `{"token": "<new jwt>"}` when the signature verifies and now < exp + grace;
 *   403 `{"error_message": "The JWT token has expired."}` past grace; 403 for a token that is not ours.
 * - `POST /api/admin/register_component`
 *   `{"registration_token": "…", "component_type": "guac", "component_id": "<uuid>"}`:
 *   200 `{"token": "<new jwt>"}` when the registration token equals the Component Registration
 *   Token (both trimmed), else 403 `{"error_message": "Invalid registration token."}`.
 *   Called with `{"token": "<jwt>"}` instead (what a locked-out component does on each attempt), an
 *   expired token gets 200 `{"error_message": "The JWT token has expired."}` and the admin log line
 *   `Expired JWT utilized on register_component`, like real Kasm.
 *
 * While unhealthy every endpoint answers 503: an Admin API that fails its health check issues no tokens.
 *
 * @example
 * ```ts
 * const api = await startKasmAdminApi({ tokenLifetimeSeconds: 120, gracePeriodSeconds: 60 });
 * const token = await api.mintToken('guac', -30); // expired 30 s ago, inside grace
 * await api.close();
 * ```
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ComponentName, isComponentName } from './catalog.ts';
import { KasmSigner, type TokenCheck } from './signing.ts';
import { createTlsMaterial } from './tls.ts';

export const EXPIRED_MESSAGE = 'The JWT token has expired.';
export const INVALID_REGISTRATION_MESSAGE = 'Invalid registration token.';

export interface KasmAdminApiOptions {
  readonly tokenLifetimeSeconds: number;
  readonly gracePeriodSeconds: number;
  /** Default true. */
  readonly healthy?: boolean;
  /**
   * The Component Registration Token setting. A scenario's secret value may be passed as is;
   * comparison is on trimmed values. Null or omitted: a random token the secret does not know.
   */
  readonly registrationToken?: string | null;
}

export type KasmEndpoint = 'healthcheck' | 'refresh_token' | 'register_component' | 'other';
export type { TokenCheck };

export interface KasmAdminApi {
  /** `https://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  /** Path of the CA certificate (PEM) to trust. */
  readonly caFile: string;
  /** The CA certificate itself (PEM). */
  readonly ca: string;
  readonly publicKeyPem: string;
  readonly tokenLifetimeSeconds: number;
  readonly gracePeriodSeconds: number;
  close(): Promise<void>;
  setHealthy(healthy: boolean): void;
  isHealthy(): boolean;
  /** The current Component Registration Token, trimmed. */
  registrationToken(): string;
  setRegistrationToken(value: string): void;
  /** A token signed by this API for `component`, expiring `expSecondsFromNow` from now (negative: in the past). */
  mintToken(component: ComponentName, expSecondsFromNow: number, id?: string): Promise<string>;
  /**
   * Synchronous {@link mintToken} with an absolute expiry (epoch seconds): the same signing code the
   * endpoints use, for the modelled components that exchange tokens in-process instead of over HTTPS.
   */
  issueToken(component: ComponentName, id: string, exp: number, nowMs?: number): string;
  /** Synchronous signature + expiry check. */
  checkToken(token: string, nowMs?: number): TokenCheck;
  requestCounts(): Readonly<Record<KasmEndpoint, number>>;
  /** What the Admin API logged (one line per event, e.g. `Expired JWT utilized on register_component`). */
  adminLog(): readonly string[];
}

const MAX_BODY = 64 * 1024;

export async function startKasmAdminApi(options: KasmAdminApiOptions): Promise<KasmAdminApi> {
  const state: AdminState = {
    healthy: options.healthy ?? true,
    registrationToken: (options.registrationToken ?? randomBytes(27).toString('base64')).trim(),
    grace: options.gracePeriodSeconds,
    log: [],
    counts: { healthcheck: 0, refresh_token: 0, register_component: 0, other: 0 },
  };
  const dir = await mkdtemp(join(tmpdir(), 'ktr-pg-kasm-'));
  const signer = await KasmSigner.create(options.tokenLifetimeSeconds, options.gracePeriodSeconds);
  const tls = await createTlsMaterial(dir).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    handle(signer, state, req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_message: String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let closed: Promise<void> | undefined;
  return {
    url: `https://127.0.0.1:${port}`,
    caFile: tls.caFile,
    ca: tls.ca,
    publicKeyPem: signer.publicKeyPem,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds,
    gracePeriodSeconds: options.gracePeriodSeconds,
    close: () => {
      closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await rm(dir, { recursive: true, force: true });
      })();
      return closed;
    },
    setHealthy: (value) => {
      state.healthy = value;
    },
    isHealthy: () => state.healthy,
    registrationToken: () => state.registrationToken,
    setRegistrationToken: (value) => {
      state.registrationToken = value.trim();
    },
    mintToken: async (component, expSecondsFromNow, id) =>
      signer.sign(signer.claimsFor(component, id), Math.floor(Date.now() / 1000 + expSecondsFromNow)),
    issueToken: (component, id, exp, nowMs) => signer.sign(signer.claimsFor(component, id), exp, nowMs),
    checkToken: (token, nowMs) => signer.check(token, nowMs),
    requestCounts: () => ({ ...state.counts }),
    adminLog: () => [...state.log],
  };
}

/** What the endpoints share and change: health, the registration token, the admin log, request counts. */
interface AdminState {
  healthy: boolean;
  registrationToken: string;
  readonly grace: number;
  readonly log: string[];
  readonly counts: Record<KasmEndpoint, number>;
}

function adminLog(state: AdminState, level: string, message: string): void {
  state.log.push(`${new Date().toISOString()} [${level}] ${message}`);
}

function endpointOf(url: string | undefined): KasmEndpoint {
  switch ((url ?? '').split('?')[0]) {
    case '/api/__healthcheck':
      return 'healthcheck';
    case '/api/admin/refresh_token':
      return 'refresh_token';
    case '/api/admin/register_component':
      return 'register_component';
    default:
      return 'other';
  }
}

async function handle(
  signer: KasmSigner,
  state: AdminState,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const endpoint = endpointOf(req.url);
  state.counts[endpoint] += 1;
  const send = ([status, body]: Reply): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  if (endpoint === 'other') return send([404, { error_message: 'Not Found' }]);
  const method = endpoint === 'healthcheck' ? 'GET' : 'POST';
  if (req.method !== method)
    return send([405, { error_message: `Method ${req.method} not allowed; use ${method}.` }]);
  if (endpoint === 'healthcheck') return send(state.healthy ? [200, { ok: true }] : [503, { ok: false }]);
  let body: Record<string, unknown>;
  try {
    body = await readJson(req);
  } catch (error) {
    return send([400, { error_message: (error as Error).message }]);
  }
  if (!state.healthy) return send([503, { error_message: 'Service Unavailable' }]);
  const auth = req.headers.authorization;
  const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
  send(
    endpoint === 'refresh_token'
      ? await refresh(signer, state, body, bearer)
      : await register(signer, state, body, bearer),
  );
}

async function refresh(
  signer: KasmSigner,
  state: AdminState,
  body: Record<string, unknown>,
  bearer: string | undefined,
): Promise<Reply> {
  const token = typeof body.token === 'string' ? body.token : bearer;
  if (!token) return [403, { error_message: 'Missing token.' }];
  const payload = await signer.verifiedPayload(token.trim());
  if (!payload || typeof payload.exp !== 'number') {
    adminLog(state, 'ERROR', 'Invalid JWT utilized on refresh_token');
    return [403, { error_message: 'Invalid token.' }];
  }
  if (Date.now() / 1000 >= payload.exp + state.grace) {
    adminLog(state, 'WARNING', 'Expired JWT utilized on refresh_token');
    return [403, { error_message: EXPIRED_MESSAGE }];
  }
  const { exp: _exp, iat: _iat, ...claims } = payload;
  return [200, { token: signer.sign(claims, signer.newExp()) }];
}

async function register(
  signer: KasmSigner,
  state: AdminState,
  body: Record<string, unknown>,
  bearer: string | undefined,
): Promise<Reply> {
  const type = body.component_type;
  const id = typeof body.component_id === 'string' && body.component_id ? body.component_id : randomUUID();
  if (typeof body.registration_token === 'string') {
    if (typeof type !== 'string' || !isComponentName(type)) {
      return [400, { error_message: `Unknown component_type ${JSON.stringify(type)}.` }];
    }
    if (body.registration_token.trim() !== state.registrationToken) {
      adminLog(state, 'ERROR', `Invalid registration token utilized on register_component (${type} ${id})`);
      return [403, { error_message: INVALID_REGISTRATION_MESSAGE }];
    }
    adminLog(state, 'INFO', `Registered component ${type} ${id} with the component registration token`);
    return [200, { token: signer.sign(signer.claimsFor(type, id), signer.newExp()), component_id: id }];
  }
  const token = typeof body.token === 'string' ? body.token : bearer;
  if (!token) return [403, { error_message: 'Missing token.' }];
  const payload = await signer.verifiedPayload(token.trim());
  if (!payload || typeof payload.exp !== 'number') {
    adminLog(state, 'ERROR', 'Invalid JWT utilized on register_component');
    return [403, { error_message: 'Invalid token.' }];
  }
  if (Date.now() / 1000 >= payload.exp) {
    adminLog(state, 'WARNING', 'Expired JWT utilized on register_component');
    return [200, { error_message: EXPIRED_MESSAGE }];
  }
  const { exp: _exp, iat: _iat, ...claims } = payload;
  return [200, { token: signer.sign(claims, signer.newExp()) }];
}

type Reply = [number, Record<string, unknown>];

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('Request body too large.');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('Request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
