/**
 * Every AWS call of a run goes through `AwsCaller.call`: paced per operation, bounded by
 * the run's deadline (abort signal), and retried on throttling with backoff until the
 * deadline, so a busy account slows a run down instead of failing 50 hosts at once.
 */
import type { Pacer } from './pacer.ts';

/** The run had no time left for this call; the caller reports the work as left for the next run. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/**
 * Error names AWS uses for rate limiting (SSM: ThrottlingException; EC2: RequestLimitExceeded).
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
 */
const THROTTLES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
]);

export function isThrottle(error: unknown): boolean {
  return error instanceof Error && THROTTLES.has(error.name);
}

/**
 * An error the caller caused (AccessDeniedException, ValidationException, InvalidCommandId, …):
 * asking again cannot help. The SDK marks these `$fault: 'client'`. Throttles are client faults
 * too, but `AwsCaller.call` retries them itself, so none reaches a caller of this.
 */
export function isRefusal(error: unknown): boolean {
  return error instanceof Error && (error as { $fault?: unknown }).$fault === 'client';
}

export interface AwsCallerOptions {
  readonly pacer: Pacer;
  /** Epoch ms after which no call is made and calls in flight are aborted. */
  readonly deadlineAt: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Draws the jitter of each backoff, in [0, 1); default Math.random (tests pass a fixed one). */
  readonly random?: () => number;
  /** Called once per throttled attempt, for metrics and logs. */
  readonly onThrottle?: (operation: string) => void;
}

const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 20_000;

export class AwsCaller {
  readonly #o: AwsCallerOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  throttles = 0;

  constructor(options: AwsCallerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.#random = options.random ?? Math.random;
  }

  get deadlineAt(): number {
    return this.#o.deadlineAt;
  }

  /** Milliseconds left before the deadline (never negative). */
  remainingMs(): number {
    return Math.max(0, this.#o.deadlineAt - this.#now());
  }

  /**
   * Sends one request. `send` receives the abort signal to hand to the SDK.
   * Throws DeadlineError when the deadline comes first; other errors pass through.
   */
  async call<T>(operation: string, send: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      if (this.remainingMs() <= 0) throw this.#late(operation);
      await this.#o.pacer.take(operation);
      const left = this.remainingMs();
      if (left <= 0) throw this.#late(operation);
      try {
        return await send(AbortSignal.timeout(left));
      } catch (error) {
        if (isThrottle(error)) {
          this.throttles++;
          this.#o.onThrottle?.(operation);
          this.#o.pacer.drain(operation);
          // Full jitter keeps concurrent callers from retrying in step.
          const wait = Math.round(backoff / 2 + (this.#random() * backoff) / 2);
          if (this.#now() + wait >= this.#o.deadlineAt) throw this.#late(operation);
          await this.#sleep(wait);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
          continue;
        }
        if (isAbort(error)) throw this.#late(operation);
        throw error;
      }
    }
  }

  #late(operation: string): DeadlineError {
    return new DeadlineError(`${operation} was not completed: the run reached its deadline`);
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** The error as a short phrase for a report sentence ("Name: message", clipped). */
export function errorName(error: unknown): string {
  if (!(error instanceof Error)) return String(error).slice(0, 200);
  const text =
    error.name === 'Error' || !error.message
      ? error.message || error.name
      : `${error.name}: ${error.message}`;
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
