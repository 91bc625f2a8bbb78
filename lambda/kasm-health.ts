/**
 * Asks the Kasm Admin API whether it is healthy, trusting a custom CA when configured.
 * Node's own http/https client, not undici: one GET needs no connection pool, and undici
 * was a third of the bundle.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { KasmApiHealth } from '../shared/token-rules.ts';

export interface KasmHealthOptions {
  readonly url?: string;
  readonly caPem?: string;
  readonly caFile?: string;
  readonly timeoutMs?: number;
  readonly attempts?: number;
}

export interface KasmHealthResult {
  readonly health: KasmApiHealth;
  readonly detail?: string;
}

/** `healthy` only for HTTP 200 with `{"ok": true}`; anything else is `unhealthy` with a detail. */
export async function checkKasmHealth(options: KasmHealthOptions): Promise<KasmHealthResult> {
  if (!options.url) return { health: 'unchecked' };
  let ca: string | undefined;
  try {
    ca = options.caPem ?? (options.caFile ? await readFile(options.caFile, 'utf8') : undefined);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { health: 'unhealthy', detail: `the Kasm CA file ${options.caFile} cannot be read (${why})` };
  }
  // An empty or truncated file would otherwise mean "no CA": the public roots, silently.
  // (KASM_CA_PEM is held to the same form by its setting rule before the run starts.)
  if (options.caFile && !ca?.includes('-----BEGIN CERTIFICATE-----')) {
    return { health: 'unhealthy', detail: `the Kasm CA file ${options.caFile} holds no PEM certificate` };
  }
  const timeout = options.timeoutMs ?? 5000;
  let detail = 'no answer';
  for (let attempt = 1; attempt <= (options.attempts ?? 2); attempt++) {
    try {
      const { status, body } = await get(`${options.url}/api/__healthcheck`, ca, timeout);
      if (status === 200 && (JSON.parse(body) as { ok?: unknown }).ok === true) return { health: 'healthy' };
      detail = `health check answered HTTP ${status}`;
    } catch (error) {
      detail = `health check failed: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
  return { health: 'unhealthy', detail };
}

/**
 * One GET on a connection of its own (`agent: false`, closed after the answer), given up
 * after `timeoutMs` without an answer.
 */
function get(
  url: string,
  ca: string | undefined,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', agent: false, ...(ca ? { ca } : {}) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      response.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
