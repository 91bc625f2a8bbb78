import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkKasmHealth } from '../../lambda/kasm-health.ts';
import { createTlsMaterial, type TlsMaterial } from '../proving-ground/kasm/tls.ts';

describe('checkKasmHealth with a Kasm CA file', () => {
  it('reports the API unhealthy, naming the file, when the CA file does not exist, instead of rejecting', async () => {
    // Prepare
    const caFile = '/nonexistent/kasm-ca.pem';

    // Act
    const result = await checkKasmHealth({ url: 'https://127.0.0.1:1', caFile, attempts: 1, timeoutMs: 200 });

    // Assess
    expect(result).toEqual({
      health: 'unhealthy',
      detail: 'the Kasm CA file /nonexistent/kasm-ca.pem cannot be read (ENOENT)',
    });
  });

  it.each([
    ['empty', ''],
    ['without a PEM certificate', 'MIIB...truncated\n'],
  ])(
    'reports the API unhealthy, asking nothing, when the CA file is %s, rather than trusting the public roots',
    async (_, text) => {
      // Prepare
      const dir = mkdtempSync(join(tmpdir(), 'ktr-ca-'));
      const caFile = join(dir, 'kasm-ca.pem');
      writeFileSync(caFile, text);

      // Act
      const result = await checkKasmHealth({
        url: 'https://127.0.0.1:1',
        caFile,
        attempts: 1,
        timeoutMs: 200,
      });
      rmSync(dir, { recursive: true });

      // Assess
      expect(result).toEqual({
        health: 'unhealthy',
        detail: `the Kasm CA file ${caFile} holds no PEM certificate`,
      });
    },
  );

  it('reports the API unhealthy when the CA path is a directory', async () => {
    // Act
    const result = await checkKasmHealth({ url: 'https://127.0.0.1:1', caFile: '/tmp', attempts: 1 });

    // Assess
    expect(result.health).toBe('unhealthy');
    expect(result.detail).toMatch(/CA file \/tmp cannot be read \(EISDIR\)/);
  });
});

/** A stand-in Kasm Admin API on 127.0.0.1 that answers each health check with `answers(n)` (n from 1). */
interface StandInApi {
  readonly url: string;
  /** Method and path of each request, in order. */
  readonly requests: string[];
  /** Resolves once every connection a client opened has been closed. */
  allConnectionsClosed(): Promise<void>;
  close(): Promise<void>;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers?: Record<string, string>;
}

async function startApi(
  answers: (n: number) => Answer | 'hang',
  tls?: { key: string; cert: string },
): Promise<StandInApi> {
  const requests: string[] = [];
  const closed: Promise<void>[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    const answer = answers(requests.length);
    if (answer === 'hang') return;
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(answer.body);
  };
  const server: HttpServer | HttpsServer = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  // Idle connections stay open until the client closes them (Node's server would close them after 5 s).
  server.keepAliveTimeout = 0;
  server.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    requests,
    allConnectionsClosed: async () => {
      await Promise.all(closed);
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const OK: Answer = { status: 200, body: '{"ok": true}' };

describe('checkKasmHealth against the Admin API', () => {
  let api: StandInApi | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it.each([
    ['no URL', {}],
    ['an empty URL', { url: '' }],
  ])('leaves the API unchecked, without a detail, when it is given %s', async (_, options) => {
    // Act
    const result = await checkKasmHealth(options);

    // Assess
    expect(result).toEqual({ health: 'unchecked' });
  });

  it('reports the API healthy when GET /api/__healthcheck answers HTTP 200 with {"ok": true}', async () => {
    // Prepare
    api = await startApi(() => OK);

    // Act
    const result = await checkKasmHealth({ url: api.url });

    // Assess
    expect(result).toEqual({ health: 'healthy' });
    expect(api.requests).toEqual(['GET /api/__healthcheck']);
  });

  it.each([
    ['HTTP 200 with {"ok": false}', { status: 200, body: '{"ok": false}' }, 'health check answered HTTP 200'],
    [
      'HTTP 200 with {"ok": "true"}',
      { status: 200, body: '{"ok": "true"}' },
      'health check answered HTTP 200',
    ],
    ['HTTP 503 with {"ok": true}', { status: 503, body: '{"ok": true}' }, 'health check answered HTTP 503'],
    ['HTTP 500 with an empty body', { status: 500, body: '' }, 'health check answered HTTP 500'],
  ])('reports the API unhealthy when it answers %s, naming the status', async (_, answer, detail) => {
    // Prepare
    api = await startApi(() => answer);

    // Act
    const result = await checkKasmHealth({ url: api.url });

    // Assess
    expect(result).toEqual({ health: 'unhealthy', detail });
  });

  it('reports the API unhealthy when HTTP 200 carries a body that is not JSON, saying why', async () => {
    // Prepare
    api = await startApi(() => ({ status: 200, body: '<html>maintenance</html>' }));

    // Act
    const result = await checkKasmHealth({ url: api.url, attempts: 1 });

    // Assess
    expect(result.health).toBe('unhealthy');
    expect(result.detail).toMatch(/^health check failed: .*not valid JSON/);
  });

  it('asks twice by default before reporting the API unhealthy', async () => {
    // Prepare
    api = await startApi(() => ({ status: 503, body: '' }));

    // Act
    const result = await checkKasmHealth({ url: api.url });

    // Assess
    expect(result).toEqual({ health: 'unhealthy', detail: 'health check answered HTTP 503' });
    expect(api.requests).toHaveLength(2);
  });

  it('reports the API healthy when the second attempt succeeds after a failed first', async () => {
    // Prepare
    api = await startApi((n) => (n === 1 ? { status: 502, body: 'bad gateway' } : OK));

    // Act
    const result = await checkKasmHealth({ url: api.url });

    // Assess
    expect(result).toEqual({ health: 'healthy' });
    expect(api.requests).toHaveLength(2);
  });

  it.each([
    [1, 1],
    [3, 3],
    [0, 0],
  ])(
    'makes as many requests as attempts are allowed (%i attempts: %i requests)',
    async (attempts, requests) => {
      // Prepare
      api = await startApi(() => ({ status: 503, body: '' }));

      // Act
      await checkKasmHealth({ url: api.url, attempts });

      // Assess
      expect(api.requests).toHaveLength(requests);
    },
  );

  it('says the API gave no answer when no attempt was allowed', async () => {
    // Prepare
    api = await startApi(() => OK);

    // Act
    const result = await checkKasmHealth({ url: api.url, attempts: 0 });

    // Assess
    expect(result).toEqual({ health: 'unhealthy', detail: 'no answer' });
  });

  it('reports the API unhealthy with the connection error when nothing listens at the URL', async () => {
    // Prepare
    const gone = await startApi(() => OK);
    await gone.close();

    // Act
    const result = await checkKasmHealth({ url: gone.url, attempts: 1 });

    // Assess
    expect(result).toEqual({
      health: 'unhealthy',
      detail: `health check failed: connect ECONNREFUSED ${gone.url.replace('http://', '')}`,
    });
  });

  it('reports the API unhealthy, at once, when the connection drops in the middle of the answer', async () => {
    // Prepare: an answer that promises 100 bytes and is cut after 5
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"ok"', () => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    try {
      // Act: a timeout far beyond the test's own, so only the dropped connection can end the check
      const result = await checkKasmHealth({
        url: `http://127.0.0.1:${port}`,
        attempts: 1,
        timeoutMs: 60_000,
      });

      // Assess
      expect(result).toEqual({ health: 'unhealthy', detail: 'health check failed: aborted' });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 3000);

  // The test's own timeout is a hang guard, 30 times the health check's, so that a check that
  // ignored `timeoutMs` (and waited its default 5 s) fails here instead of passing slowly.
  it('gives up on an API that accepts the request but never answers, after timeoutMs', async () => {
    // Prepare
    api = await startApi(() => 'hang');

    // Act
    const result = await checkKasmHealth({ url: api.url, attempts: 1, timeoutMs: 100 });

    // Assess
    expect(result).toEqual({ health: 'unhealthy', detail: 'health check failed: no answer within 100 ms' });
  }, 3_000);

  it('closes its connection when done, even when the API offers to keep it alive for ten minutes', async () => {
    // Prepare
    api = await startApi(() => ({
      ...OK,
      headers: { connection: 'keep-alive', 'keep-alive': 'timeout=600' },
    }));

    // Act
    const result = await checkKasmHealth({ url: api.url });

    // Assess
    expect(result.health).toBe('healthy');
    await api.allConnectionsClosed();
  });
});

describe('checkKasmHealth over HTTPS with a private CA', () => {
  let dir: string;
  let tls: TlsMaterial;
  let api: StandInApi;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ktr-kasm-ca-'));
    tls = await createTlsMaterial(dir);
    api = await startApi(() => OK, tls);
  });
  afterAll(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the API healthy when it trusts the CA given as PEM text', async () => {
    // Act
    const result = await checkKasmHealth({ url: api.url, caPem: tls.ca });

    // Assess
    expect(result).toEqual({ health: 'healthy' });
  });

  it('reports the API healthy when it trusts the CA read from a file', async () => {
    // Act
    const result = await checkKasmHealth({ url: api.url, caFile: tls.caFile });

    // Assess
    expect(result).toEqual({ health: 'healthy' });
  });

  it('reports the API unhealthy, naming the certificate problem, when no CA is configured', async () => {
    // Act
    const result = await checkKasmHealth({ url: api.url, attempts: 1 });

    // Assess
    expect(result).toEqual({
      health: 'unhealthy',
      detail: 'health check failed: self-signed certificate in certificate chain',
    });
  });
});
