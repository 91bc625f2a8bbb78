/**
 * Keeps the registration token out of every log line. Powertools Logger has no built-in
 * redaction, so its `jsonReplacerFn` hook routes every string through `redact`.
 */
const secrets = new Set<string>();
export const REDACTED = '[REDACTED]';

/** Registers a value that must never be logged (kept only for this process's lifetime). */
export function registerSecret(value: string): void {
  if (value.length >= 8) secrets.add(value);
}

export function redact(text: string): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

export function redactingReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return redact(value);
  if (typeof value === 'bigint') return value.toString();
  return value;
}
