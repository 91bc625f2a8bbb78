/**
 * Client-side pacing: one token bucket per API operation, so a run stays under the
 * account's own rate limits instead of spending the SDK's retry quota on throttles.
 * AWS does not publish the SSM rates; they are shared by every caller in the account.
 */

export interface PacerOptions {
  /** Sustained calls per second for each operation. */
  readonly ratePerSecond: number;
  /** Calls that may go at once after a quiet spell. */
  readonly burst: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A token bucket per operation name; `take` waits for a token, in call order. */
export class Pacer {
  readonly #options: PacerOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #buckets = new Map<string, { tokens: number; at: number; queue: Promise<void> }>();

  constructor(options: PacerOptions) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) {
      throw new RangeError('Pacer needs a positive rate and a burst of at least 1');
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#sleep = options.sleep ?? defaultSleep;
  }

  /** Resolves when a call to `operation` may go. Calls are served first come, first served. */
  take(operation: string): Promise<void> {
    const bucket = this.#bucket(operation);
    const turn = bucket.queue.then(async () => {
      this.#refill(bucket);
      if (bucket.tokens < 1) {
        const waitMs = Math.ceil(((1 - bucket.tokens) / this.#options.ratePerSecond) * 1000);
        await this.#sleep(waitMs);
        this.#refill(bucket);
      }
      bucket.tokens = Math.max(0, bucket.tokens - 1);
    });
    bucket.queue = turn;
    return turn;
  }

  /** After a throttle the bucket was fuller than AWS's: start it over empty. */
  drain(operation: string): void {
    const bucket = this.#bucket(operation);
    bucket.tokens = 0;
    bucket.at = this.#now();
  }

  #bucket(operation: string) {
    let bucket = this.#buckets.get(operation);
    if (!bucket) {
      bucket = { tokens: this.#options.burst, at: this.#now(), queue: Promise.resolve() };
      this.#buckets.set(operation, bucket);
    }
    return bucket;
  }

  #refill(bucket: { tokens: number; at: number }): void {
    const now = this.#now();
    bucket.tokens = Math.min(
      this.#options.burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.#options.ratePerSecond,
    );
    bucket.at = now;
  }
}
