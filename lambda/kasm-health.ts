/** Asks the Kasm Admin API whether it is healthy, trusting a custom CA when configured. */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'undici';
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
  const dispatcher = new Agent({
    connect: { ...(ca ? { ca } : {}), timeout },
    headersTimeout: timeout,
    bodyTimeout: timeout,
  });
  let detail = 'no answer';
  try {
    for (let attempt = 1; attempt <= (options.attempts ?? 2); attempt++) {
      try {
        const response = await request(`${options.url}/api/__healthcheck`, { dispatcher, method: 'GET' });
        const body = await response.body.text();
        if (response.statusCode === 200 && (JSON.parse(body) as { ok?: unknown }).ok === true) {
          return { health: 'healthy' };
        }
        detail = `health check answered HTTP ${response.statusCode}`;
      } catch (error) {
        detail = `health check failed: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  } finally {
    await dispatcher.close();
  }
  return { health: 'unhealthy', detail };
}
