/**
 * Shows how long the operator has been waiting and how far the run got: on a terminal, one
 * line rewritten every second ("… 1m 05s · probe: batch 2 of 3 (100 of 118 hosts)");
 * elsewhere (CI, a pipe) one line at the start and one per change of progress, so logs stay
 * clean.
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

/** `work` gets a function to report progress with (a short text, shown after the clock). */
export async function withElapsed<T>(
  stream: ProgressStream,
  label: string,
  work: (progress: (text: string) => void) => Promise<T>,
  options: { readonly now?: () => number; readonly intervalMs?: number } = {},
): Promise<T> {
  const now = options.now ?? Date.now;
  const started = now();
  if (!stream.isTTY) {
    stream.write(`${label}…\n`);
    return work((text) => stream.write(`${label}: ${text}\n`));
  }
  let detail = '';
  const draw = () =>
    stream.write(`\r\x1b[2K${label}… ${formatElapsed(now() - started)}${detail ? ` · ${detail}` : ''}`);
  draw();
  const timer = setInterval(draw, options.intervalMs ?? 1000);
  try {
    return await work((text) => {
      detail = text;
      draw();
    });
  } finally {
    clearInterval(timer);
    stream.write(`\r\x1b[2K${label}: done in ${formatElapsed(now() - started)}\n`);
  }
}
