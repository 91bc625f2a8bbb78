import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KasmAdminApi, startKasmAdminApi } from './kasm/admin-api.ts';
import { payloadOf, REGISTRATION_TOKEN } from './testing.ts';

interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function call(
  api: KasmAdminApi,
  method: string,
  path: string,
  body?: unknown,
  ca?: string | null,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      `${api.url}${path}`,
      { method, agent: false, ...(ca === null ? {} : { ca: ca ?? readFileSync(api.caFile, 'utf8') }) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const LIFETIME = 120;
const GRACE = 60;

describe('the simulated Kasm Admin API', () => {
  let api: KasmAdminApi;
  beforeAll(async () => {
    api = await startKasmAdminApi({
      tokenLifetimeSeconds: LIFETIME,
      gracePeriodSeconds: GRACE,
      registrationToken: `${REGISTRATION_TOKEN}\n`,
    });
  });
  afterAll(async () => {
    await api.close();
  });

  it('answers its health check over HTTPS to a client that trusts the CA file', async () => {
    // Prepare
    const url = new URL(api.url);

    // Act
    const reply = await call(api, 'GET', '/api/__healthcheck');

    // Assess
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe('127.0.0.1');
    expect(reply).toEqual({ status: 200, body: { ok: true } });
  });

  it('is refused by a client that does not trust its CA', async () => {
    // Prepare
    const noCa = null;

    // Act
    const attempt = call(api, 'GET', '/api/__healthcheck', undefined, noCa);

    // Assess
    await expect(attempt).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
  });

  it('answers 503 while unhealthy and issues no tokens, and recovers when switched back', async () => {
    // Prepare
    const token = await api.mintToken('guac', 60);
    api.setHealthy(false);

    // Act
    const health = await call(api, 'GET', '/api/__healthcheck');
    const refresh = await call(api, 'POST', '/api/admin/refresh_token', { token });
    api.setHealthy(true);
    const healthAgain = await call(api, 'GET', '/api/__healthcheck');

    // Assess
    expect(health).toEqual({ status: 503, body: { ok: false } });
    expect(refresh.status).toBe(503);
    expect(healthAgain.status).toBe(200);
  });

  it('mints RS256 tokens whose id claim depends on the component', async () => {
    // Prepare
    const key = await importSPKI(api.publicKeyPem, 'RS256');

    // Act
    const agent = await api.mintToken('agent', 100, 'server-1');
    const guac = await api.mintToken('guac', 100, 'proxy-1');

    // Assess
    expect(decodeProtectedHeader(agent)).toEqual({ alg: 'RS256', typ: 'JWT' });
    const { payload } = await jwtVerify(agent, key);
    expect(payload).toMatchObject({ server_id: 'server-1' });
    expect(payload.authorizations).toEqual(expect.arrayContaining([expect.any(String)]));
    expect(payloadOf(guac)).toMatchObject({ connection_proxy_id: 'proxy-1' });
    expect(payloadOf(guac)).not.toHaveProperty('server_id');
    expect(Math.abs((payload.exp as number) - (Date.now() / 1000 + 100))).toBeLessThanOrEqual(1);
  });

  it('exchanges a valid token for a new one with the same id claim and a full lifetime', async () => {
    // Prepare
    const token = await api.mintToken('rdp_gateway', 5, 'proxy-7');

    // Act
    const reply = await call(api, 'POST', '/api/admin/refresh_token', { token });

    // Assess
    expect(reply.status).toBe(200);
    const fresh = reply.body.token as string;
    expect(api.checkToken(fresh).valid).toBe(true);
    expect(payloadOf(fresh)).toMatchObject({ connection_proxy_id: 'proxy-7' });
    const exp = payloadOf(fresh).exp as number;
    expect(Math.abs(exp - (Date.now() / 1000 + LIFETIME))).toBeLessThanOrEqual(1);
  });

  it('exchanges a token that expired within the grace period', async () => {
    // Prepare
    const token = await api.mintToken('agent', -(GRACE - 10), 'server-2');

    // Act
    const reply = await call(api, 'POST', '/api/admin/refresh_token', { token });

    // Assess
    expect(reply.status).toBe(200);
    expect(payloadOf(reply.body.token as string)).toMatchObject({ server_id: 'server-2' });
  });

  it('refuses with 403 and the expired message a token past its grace period', async () => {
    // Prepare
    const token = await api.mintToken('agent', -(GRACE + 5));

    // Act
    const reply = await call(api, 'POST', '/api/admin/refresh_token', { token });

    // Assess
    expect(reply).toEqual({ status: 403, body: { error_message: 'The JWT token has expired.' } });
  });

  it('refuses with 403 a token that is not a JWT or was not signed by it', async () => {
    // Prepare
    const other = await startKasmAdminApi({ tokenLifetimeSeconds: 60, gracePeriodSeconds: 60 });
    const foreign = await other.mintToken('guac', 60);
    await other.close();

    // Act
    const garbage = await call(api, 'POST', '/api/admin/refresh_token', { token: 'not-a-jwt' });
    const forged = await call(api, 'POST', '/api/admin/refresh_token', { token: foreign });

    // Assess
    expect(garbage.status).toBe(403);
    expect(forged.status).toBe(403);
    expect(api.checkToken(foreign).signatureValid).toBe(false);
  });

  it('registers a component with the registration token, ignoring surrounding whitespace', async () => {
    // Prepare
    const body = {
      registration_token: `  ${REGISTRATION_TOKEN}\n\n`,
      component_type: 'rdp_https_gateway',
      component_id: 'proxy-9',
    };

    // Act
    const reply = await call(api, 'POST', '/api/admin/register_component', body);

    // Assess
    expect(reply.status).toBe(200);
    expect(api.checkToken(reply.body.token as string).valid).toBe(true);
    expect(payloadOf(reply.body.token as string)).toMatchObject({ connection_proxy_id: 'proxy-9' });
  });

  it('refuses with 403 a registration token that is not the current one', async () => {
    // Prepare
    const body = { registration_token: 'd3JvbmcK', component_type: 'guac', component_id: 'proxy-3' };

    // Act
    const reply = await call(api, 'POST', '/api/admin/register_component', body);

    // Assess
    expect(reply).toEqual({ status: 403, body: { error_message: 'Invalid registration token.' } });
  });

  it('follows a rotation of the registration token', async () => {
    // Prepare
    api.setRegistrationToken('bmV3LXRva2Vu\n');
    const body = (registration_token: string) => ({ registration_token, component_type: 'agent' });

    // Act
    const old = await call(api, 'POST', '/api/admin/register_component', body(REGISTRATION_TOKEN));
    const current = await call(api, 'POST', '/api/admin/register_component', body('bmV3LXRva2Vu'));
    api.setRegistrationToken(REGISTRATION_TOKEN);

    // Assess
    expect(old.status).toBe(403);
    expect(current.status).toBe(200);
  });

  it('answers a locked-out component that retries with its expired token like real Kasm, and logs it', async () => {
    // Prepare
    const token = await api.mintToken('agent', -(GRACE + LIFETIME));

    // Act
    const reply = await call(api, 'POST', '/api/admin/register_component', { token });

    // Assess
    expect(reply).toEqual({ status: 200, body: { error_message: 'The JWT token has expired.' } });
    expect(api.adminLog().at(-1)).toMatch(/Expired JWT utilized on register_component$/);
  });

  it('counts the requests it receives per endpoint', async () => {
    // Prepare
    const before = api.requestCounts();

    // Act
    await call(api, 'GET', '/api/__healthcheck');
    await call(api, 'GET', '/api/__healthcheck');
    await call(api, 'POST', '/api/admin/refresh_token', { token: 'x' });
    await call(api, 'POST', '/api/admin/register_component', {
      registration_token: 'x',
      component_type: 'agent',
    });
    const notFound = await call(api, 'GET', '/api/nothing');

    // Assess
    const after = api.requestCounts();
    expect(notFound.status).toBe(404);
    expect({
      healthcheck: after.healthcheck - before.healthcheck,
      refresh_token: after.refresh_token - before.refresh_token,
      register_component: after.register_component - before.register_component,
      other: after.other - before.other,
    }).toEqual({ healthcheck: 2, refresh_token: 1, register_component: 1, other: 1 });
  });

  it('checks tokens synchronously: valid, inside grace, and past grace', async () => {
    // Prepare
    const valid = await api.mintToken('guac', 30);
    const inGrace = await api.mintToken('guac', -30);
    const pastGrace = await api.mintToken('guac', -(GRACE + 1));

    // Act
    const checks = [valid, inGrace, pastGrace, 'garbage'].map((t) => api.checkToken(t));

    // Assess
    expect(checks.map((c) => [c.signatureValid, c.valid, c.exchangeable])).toEqual([
      [true, true, true],
      [true, false, true],
      [true, false, false],
      [false, false, false],
    ]);
  });
});

describe('closing the simulated Kasm Admin API', () => {
  it('stops listening and removes its CA file', async () => {
    // Prepare
    const api = await startKasmAdminApi({ tokenLifetimeSeconds: 60, gracePeriodSeconds: 60 });
    const caFile = api.caFile;
    const existedBefore = existsSync(caFile);

    // Act
    await api.close();

    // Assess
    expect(existedBefore).toBe(true);
    expect(existsSync(caFile)).toBe(false);
    await expect(call(api, 'GET', '/api/__healthcheck', undefined, '')).rejects.toThrow(/ECONNREFUSED/);
  });
});
