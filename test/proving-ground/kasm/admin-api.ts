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
import { createPublicKey, KeyObject, randomBytes, randomUUID, sign as rsaSign, verify } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, exportSPKI, generateKeyPair } from 'jose';
import { COMPONENTS, type ComponentName, isComponentName } from './catalog.ts';
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

export interface TokenCheck {
  /** The text is a JWT whose RS256 signature verifies with this API's key. */
  readonly signatureValid: boolean;
  /** Signature valid and exp in the future. */
  readonly valid: boolean;
  /** Signature valid and now < exp + grace: it can still be exchanged. */
  readonly exchangeable: boolean;
  readonly exp?: number;
  readonly payload?: Readonly<Record<string, unknown>>;
}

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
  const lifetime = options.tokenLifetimeSeconds;
  const grace = options.gracePeriodSeconds;
  let healthy = options.healthy ?? true;
  let registrationToken = (options.registrationToken ?? randomBytes(27).toString('base64')).trim();
  const counts: Record<KasmEndpoint, number> = {
    healthcheck: 0,
    refresh_token: 0,
    register_component: 0,
    other: 0,
  };
  const log: string[] = [];
  const adminLog = (level: string, message: string): void => {
    log.push(`${new Date().toISOString()} [${level}] ${message}`);
  };

  const dir = await mkdtemp(join(tmpdir(), 'ktr-pg-kasm-'));
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicKeyPem = await exportSPKI(publicKey);
  const publicKeyObject: KeyObject = createPublicKey(publicKeyPem);
  const tls = await createTlsMaterial(dir).catch(async (error: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw error;
  });

  const privateKeyObject = KeyObject.from(privateKey);
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT' })).toString('base64url');
  /** An RS256 JWT laid out as jose's SignJWT lays it out (claims, then iat, then exp), signed synchronously. */
  const signSync = (claims: Record<string, unknown>, exp: number, nowMs = Date.now()): string => {
    const iat = Math.min(Math.floor(nowMs / 1000), exp - Math.ceil(lifetime));
    const payload = Buffer.from(JSON.stringify({ ...claims, iat, exp })).toString('base64url');
    const signature = rsaSign('RSA-SHA256', Buffer.from(`${header}.${payload}`), privateKeyObject);
    return `${header}.${payload}.${signature.toString('base64url')}`;
  };
  const sign = async (claims: Record<string, unknown>, exp: number): Promise<string> => signSync(claims, exp);

  const claimsFor = (component: ComponentName, id: string): Record<string, unknown> => {
    const spec = COMPONENTS[component];
    return { [spec.idClaim]: id, authorizations: [...spec.authorizations] };
  };

  const mintToken = (component: ComponentName, expSecondsFromNow: number, id?: string): Promise<string> =>
    sign(claimsFor(component, id ?? randomUUID()), Math.floor(Date.now() / 1000 + expSecondsFromNow));

  const newExp = (): number => Math.floor(Date.now() / 1000 + lifetime);

  const checkToken = (token: string, nowMs = Date.now()): TokenCheck => {
    const invalid: TokenCheck = { signatureValid: false, valid: false, exchangeable: false };
    const parts = token.trim().split('.');
    if (parts.length !== 3) return invalid;
    const [h, p, s] = parts as [string, string, string];
    try {
      const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
      if (header.alg !== 'RS256') return invalid;
      const ok = verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKeyObject, Buffer.from(s, 'base64url'));
      if (!ok) return invalid;
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
      const exp = typeof payload.exp === 'number' ? payload.exp : undefined;
      const now = nowMs / 1000;
      return {
        signatureValid: true,
        valid: exp !== undefined && exp > now,
        exchangeable: exp !== undefined && now < exp + grace,
        ...(exp === undefined ? {} : { exp }),
        payload,
      };
    } catch {
      return invalid;
    }
  };

  /** Verifies with jose (the signature only); undefined when the token is not ours. */
  const verifiedPayload = async (token: string): Promise<Record<string, unknown> | undefined> => {
    try {
      const { payload } = await compactVerify(token, publicKey, { algorithms: ['RS256'] });
      return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };

  const refresh = async (body: Record<string, unknown>, bearer: string | undefined): Promise<Reply> => {
    const token = typeof body.token === 'string' ? body.token : bearer;
    if (!token) return [403, { error_message: 'Missing token.' }];
    const payload = await verifiedPayload(token.trim());
    if (!payload || typeof payload.exp !== 'number') {
      adminLog('ERROR', 'Invalid JWT utilized on refresh_token');
      return [403, { error_message: 'Invalid token.' }];
    }
    if (Date.now() / 1000 >= payload.exp + grace) {
      adminLog('WARNING', 'Expired JWT utilized on refresh_token');
      return [403, { error_message: EXPIRED_MESSAGE }];
    }
    const { exp: _exp, iat: _iat, ...claims } = payload;
    return [200, { token: await sign(claims, newExp()) }];
  };

  const register = async (body: Record<string, unknown>, bearer: string | undefined): Promise<Reply> => {
    const type = body.component_type;
    const id = typeof body.component_id === 'string' && body.component_id ? body.component_id : randomUUID();
    if (typeof body.registration_token === 'string') {
      if (typeof type !== 'string' || !isComponentName(type)) {
        return [400, { error_message: `Unknown component_type ${JSON.stringify(type)}.` }];
      }
      if (body.registration_token.trim() !== registrationToken) {
        adminLog('ERROR', `Invalid registration token utilized on register_component (${type} ${id})`);
        return [403, { error_message: INVALID_REGISTRATION_MESSAGE }];
      }
      adminLog('INFO', `Registered component ${type} ${id} with the component registration token`);
      return [200, { token: await sign(claimsFor(type, id), newExp()), component_id: id }];
    }
    const token = typeof body.token === 'string' ? body.token : bearer;
    if (!token) return [403, { error_message: 'Missing token.' }];
    const payload = await verifiedPayload(token.trim());
    if (!payload || typeof payload.exp !== 'number') {
      adminLog('ERROR', 'Invalid JWT utilized on register_component');
      return [403, { error_message: 'Invalid token.' }];
    }
    if (Date.now() / 1000 >= payload.exp) {
      adminLog('WARNING', 'Expired JWT utilized on register_component');
      return [200, { error_message: EXPIRED_MESSAGE }];
    }
    const { exp: _exp, iat: _iat, ...claims } = payload;
    return [200, { token: await sign(claims, newExp()) }];
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '').split('?')[0];
    const endpoint: KasmEndpoint =
      path === '/api/__healthcheck'
        ? 'healthcheck'
        : path === '/api/admin/refresh_token'
          ? 'refresh_token'
          : path === '/api/admin/register_component'
            ? 'register_component'
            : 'other';
    counts[endpoint] += 1;
    const send = ([status, body]: Reply): void => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    if (endpoint === 'other') return send([404, { error_message: 'Not Found' }]);
    const method = endpoint === 'healthcheck' ? 'GET' : 'POST';
    if (req.method !== method)
      return send([405, { error_message: `Method ${req.method} not allowed; use ${method}.` }]);
    if (endpoint === 'healthcheck') return send(healthy ? [200, { ok: true }] : [503, { ok: false }]);
    let body: Record<string, unknown>;
    try {
      body = await readJson(req);
    } catch (error) {
      return send([400, { error_message: (error as Error).message }]);
    }
    if (!healthy) return send([503, { error_message: 'Service Unavailable' }]);
    const auth = req.headers.authorization;
    const bearer = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    send(endpoint === 'refresh_token' ? await refresh(body, bearer) : await register(body, bearer));
  };

  const server: Server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
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
    publicKeyPem,
    tokenLifetimeSeconds: lifetime,
    gracePeriodSeconds: grace,
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
      healthy = value;
    },
    isHealthy: () => healthy,
    registrationToken: () => registrationToken,
    setRegistrationToken: (value) => {
      registrationToken = value.trim();
    },
    mintToken,
    issueToken: (component, id, exp, nowMs) => signSync(claimsFor(component, id), exp, nowMs),
    checkToken,
    requestCounts: () => ({ ...counts }),
    adminLog: () => [...log],
  };
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
