/**
 * The HTTPS client a simulated Kasm component talks to the Admin API with: one request, JSON in and
 * out, trusting only the Admin API's CA, no connection reuse, a 5 s timeout.
 */
import { request } from 'node:https';

export interface ApiReply {
  readonly status: number;
  /** The reply's JSON object; undefined when the body is not one. */
  readonly body: Record<string, unknown> | undefined;
}

/** One call to `url`; rejects when the server cannot be reached or does not answer in time. */
export function callAdminApi(
  url: string,
  ca: string,
  method: 'GET' | 'POST',
  body?: unknown,
): Promise<ApiReply> {
  return new Promise<ApiReply>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      url,
      {
        method,
        ca,
        timeout: 5000,
        agent: false,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          let parsed: Record<string, unknown> | undefined;
          try {
            const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            parsed = v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
