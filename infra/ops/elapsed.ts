/**
 * Shows how long the operator has been waiting: on a terminal, one line rewritten every
 * second ("… 1m 05s"); elsewhere (CI, a pipe) one line at the start and nothing more, so
 * logs stay clean.
 */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m ${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

export async function withElapsed<T>(
  stream: ProgressStream,
  label: string,
  work: () => Promise<T>,
  options: { readonly now?: () => number; readonly intervalMs?: number } = {},
): Promise<T> {
  const now = options.now ?? Date.now;
  const started = now();
  if (!stream.isTTY) {
    stream.write(`${label}…\n`);
    return work();
  }
  const draw = () => stream.write(`\r\x1b[2K${label}… ${formatElapsed(now() - started)}`);
  draw();
  const timer = setInterval(draw, options.intervalMs ?? 1000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    stream.write(`\r\x1b[2K${label}: done in ${formatElapsed(now() - started)}\n`);
  }
}
