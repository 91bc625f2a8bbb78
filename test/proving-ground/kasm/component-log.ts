/**
 * How a simulated Kasm component writes its log: Kasm's Python logging format
 * (`2025-07-23 18:45:47,123 [INFO]  message`), Kasm's way of printing expiry times, and the way the
 * Python components print a JSON object.
 */
import { appendFile } from 'node:fs/promises';

export type LogLevel = 'INFO' | 'DEBUG' | 'ERROR';

/** `2025-07-23 18:45:47` (UTC), the form Kasm prints expiry times in. */
export function kasmTime(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/** One component's log file. */
export class ComponentLog {
  constructor(private readonly path: string) {}

  async write(level: LogLevel, message: string): Promise<void> {
    const now = new Date();
    const stamp = `${now.toISOString().replace('T', ' ').slice(0, 19)},${String(now.getUTCMilliseconds()).padStart(3, '0')}`;
    await appendFile(this.path, `${stamp} ${`[${level}]`.padEnd(7)} ${message}\n`);
  }
}

/** `{'ok': True}`: how the Python components print a JSON object. */
export function pythonDict(body: Record<string, unknown> | undefined): string {
  if (!body) return 'None';
  const show = (v: unknown): string =>
    v === true
      ? 'True'
      : v === false
        ? 'False'
        : v === null
          ? 'None'
          : typeof v === 'string'
            ? `'${v}'`
            : String(v);
  return `{${Object.entries(body)
    .map(([k, v]) => `'${k}': ${show(v)}`)
    .join(', ')}}`;
}
