/**
 * Runs one simulated host's step in its own namespaces through `unshare`: captures
 * output (bounded), enforces the step timeout by killing the whole process group, and
 * maps the ending to a StepResult. Shared by the Linux and Windows hosts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { StepResult } from '../types.ts';
import type { Limiter } from './limiter.ts';

/** Exit code of a namespace setup script that could not prepare the host. */
export const SETUP_FAILED = 125;
const MAX_OUTPUT = 1024 * 1024;

export function stoppedBeforeRun(id: string): StepResult {
  return {
    exitCode: -1,
    stdout: '',
    stderr: `simulated host ${id} was stopped before the step could run\n`,
    timedOut: false,
  };
}

export function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/**
 * Runs `setup` (a sh script that mounts the host's view, then execs the step) in new mount
 * and PID namespaces, in a new process group tracked in `children` while it runs. As root the
 * mounts are real; otherwise a user namespace maps us to root inside.
 */
export function runInNamespace(
  setup: string,
  env: Readonly<Record<string, string>>,
  timeoutSeconds: number,
  children: Set<ChildProcess>,
  signal?: AbortSignal,
): Promise<StepResult> {
  const isRoot = process.getuid?.() === 0;
  const args = [
    ...(isRoot ? [] : ['--user', '--map-root-user']),
    ...['--mount', '--propagation', 'private', '--pid', '--fork', '--kill-child', '--mount-proc'],
    ...['--', '/bin/sh', '-c', setup],
  ];
  return new Promise<StepResult>((resolve) => {
    const child = spawn('unshare', args, {
      env,
      cwd: '/',
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const out = new Capture();
    const err = new Capture();
    child.stdout.on('data', (c: Buffer) => out.add(c));
    child.stderr.on('data', (c: Buffer) => err.add(c));
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        killGroup(child);
      },
      (timeoutSeconds > 0 ? timeoutSeconds : 3600) * 1000,
    );
    // CancelCommand (or the SSM side's own execution timeout) aborts the step: kill it like a timeout.
    const abort = () => killGroup(child);
    const stop = signal;
    stop?.addEventListener('abort', abort, { once: true });
    if (stop?.aborted) abort();
    let spawnError: Error | undefined;
    child.on('error', (error) => {
      spawnError = error;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', abort);
      children.delete(child);
      const stderr =
        err.text() + (spawnError ? `proving ground: cannot start unshare: ${spawnError.message}\n` : '');
      resolve({
        exitCode: timedOut ? -1 : (code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1)),
        stdout: out.text(),
        stderr,
        timedOut,
      });
    });
  });
}

/**
 * One host's steps: scheduled through the fleet's limiter, tracked while they run, and all
 * killed by `abortAll`, after which no step starts.
 */
export class HostSteps {
  readonly #limiter: Limiter;
  readonly #children = new Set<ChildProcess>();
  readonly #inflight = new Set<Promise<StepResult>>();
  #closed = false;

  constructor(limiter: Limiter) {
    this.#limiter = limiter;
  }

  get closed(): boolean {
    return this.#closed;
  }

  schedule(work: () => Promise<StepResult>): Promise<StepResult> {
    return this.#limiter.run(() => {
      const result = work();
      this.#inflight.add(result);
      void result.finally(() => this.#inflight.delete(result)).catch(() => undefined);
      return result;
    });
  }

  run(
    setup: string,
    env: Readonly<Record<string, string>>,
    timeoutSeconds: number,
    signal?: AbortSignal,
  ): Promise<StepResult> {
    return runInNamespace(setup, env, timeoutSeconds, this.#children, signal);
  }

  /** Kills every step still running, waits for them to end, and runs no more. */
  async abortAll(): Promise<void> {
    this.#closed = true;
    for (const child of this.#children) killGroup(child);
    await Promise.allSettled([...this.#inflight]);
  }
}

class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  add(chunk: Buffer): void {
    if (this.size >= MAX_OUTPUT) return;
    const part = chunk.subarray(0, MAX_OUTPUT - this.size);
    this.chunks.push(part);
    this.size += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
