/** Client-side pacing and the deadline-bounded, throttle-riding AWS call. */
import { describe, expect, it } from 'vitest';
import { AwsCaller, DeadlineError, errorName, isThrottle } from '../../lambda/aws/aws-call.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import { awsError } from './fake-ssm.ts';

/** A clock that only moves when someone sleeps on it. */
function fakeClock() {
  let now = 1_000_000;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
  };
}

describe('Pacer', () => {
  it('lets a burst through at once, then one call per 1/rate seconds', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ratePerSecond: 2, burst: 3, ...clock });
    const start = clock.now();
    const times: number[] = [];
    for (let i = 0; i < 7; i++) {
      await pacer.take('SendCommand');
      times.push(clock.now() - start);
    }
    expect(times).toEqual([0, 0, 0, 500, 1000, 1500, 2000]);
  });

  it('refills the bucket at the rate while idle, so a burst goes through at once again', async () => {
    // Prepare: two calls a second, a burst of two, spent
    const clock = fakeClock();
    const pacer = new Pacer({ ratePerSecond: 2, burst: 2, ...clock });
    await pacer.take('SendCommand');
    await pacer.take('SendCommand');

    // Act: a second idle, then a burst
    await clock.sleep(1000);
    await pacer.take('SendCommand');
    await pacer.take('SendCommand');

    // Assess: no wait beyond the idle second
    expect(clock.now() - 1_000_000).toBe(1000);
  });

  it('waits only for the part of a token still missing', async () => {
    // Prepare: a spent bucket of one, two calls a second, then a quarter second idle (half a token)
    const clock = fakeClock();
    const pacer = new Pacer({ ratePerSecond: 2, burst: 1, ...clock });
    await pacer.take('SendCommand');
    await clock.sleep(250);

    // Act
    await pacer.take('SendCommand');

    // Assess
    expect(clock.now() - 1_000_000).toBe(500);
  });

  it('keeps one bucket per operation', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ratePerSecond: 1, burst: 1, ...clock });
    await pacer.take('SendCommand');
    await pacer.take('ListCommands');
    expect(clock.now()).toBe(1_000_000);
  });

  it('starts a drained bucket over empty, so the next call waits a full interval', async () => {
    const clock = fakeClock();
    const pacer = new Pacer({ ratePerSecond: 4, burst: 10, ...clock });
    pacer.drain('SendCommand');
    await pacer.take('SendCommand');
    expect(clock.now() - 1_000_000).toBe(250);
  });

  it('refuses a rate or burst that could never let a call through', () => {
    expect(() => new Pacer({ ratePerSecond: 0, burst: 1 })).toThrow(
      new RangeError('Pacer needs a positive rate and a burst of at least 1'),
    );
    expect(() => new Pacer({ ratePerSecond: 1, burst: 0 })).toThrow(RangeError);
  });
});

describe('AwsCaller', () => {
  const caller = (deadlineIn: number, clock = fakeClock()) =>
    new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 100, burst: 100, ...clock }),
      deadlineAt: clock.now() + deadlineIn,
      ...clock,
    });

  it('retries a throttled call with backoff until it goes through, counting the throttles', async () => {
    const c = caller(60_000);
    let attempts = 0;
    const result = await c.call('SendCommand', async () => {
      if (++attempts <= 4) throw awsError('ThrottlingException', 'Rate exceeded');
      return 'sent';
    });
    expect(result).toBe('sent');
    expect(c.throttles).toBe(4);
  });

  it('waits between half and all of a backoff that doubles from 1 s up to 20 s, as the jitter draws', async () => {
    // Prepare: the same throttled call twice, with the lowest and the highest jitter draw
    const waitsWith = async (draw: number) => {
      const clock = fakeClock();
      const waits: number[] = [];
      const c = new AwsCaller({
        pacer: new Pacer({ ratePerSecond: 100, burst: 100, ...clock }),
        deadlineAt: clock.now() + 10 * 60_000,
        now: clock.now,
        sleep: async (ms) => {
          waits.push(ms);
          await clock.sleep(ms);
        },
        random: () => draw,
      });
      let attempts = 0;
      await c.call('SendCommand', async () => {
        if (++attempts <= 7) throw awsError('ThrottlingException');
      });
      return waits;
    };

    // Act
    const lowest = await waitsWith(0);
    const highest = await waitsWith(0.999);

    // Assess: the pacer never made anyone wait here, so these are the backoffs alone
    expect(lowest).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
    expect(highest).toEqual([1000, 1999, 3998, 7996, 15_992, 19_990, 19_990]);
  });

  it('sleeps on the real clock between attempts when given no sleep of its own', async () => {
    // Prepare: the lowest jitter draw, so the one backoff is half a second
    const c = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 100, burst: 100 }),
      deadlineAt: Date.now() + 60_000,
      random: () => 0,
    });
    const attempts: number[] = [];

    // Act
    await c.call('SendCommand', async () => {
      attempts.push(performance.now());
      if (attempts.length === 1) throw awsError('ThrottlingException');
    });

    // Assess: the second attempt came after the backoff, not at once
    expect(attempts).toHaveLength(2);
    expect((attempts[1] ?? 0) - (attempts[0] ?? 0)).toBeGreaterThanOrEqual(495);
  });

  it('gives up on throttling with a DeadlineError once the backoff would pass the deadline', async () => {
    const c = caller(3000);
    await expect(
      c.call('SendCommand', async () => {
        throw awsError('ThrottlingException');
      }),
    ).rejects.toBeInstanceOf(DeadlineError);
  });

  it('gives up at once, without waiting, on a throttle whose backoff would end right at the deadline', async () => {
    // Prepare: the first backoff, with the least jitter, is 500 ms, and the deadline is 500 ms away
    const clock = fakeClock();
    const c = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 100, burst: 100, ...clock }),
      deadlineAt: clock.now() + 500,
      ...clock,
      random: () => 0,
    });

    // Act
    const call = c.call('SendCommand', async () => {
      throw awsError('ThrottlingException');
    });

    // Assess
    await expect(call).rejects.toThrow('SendCommand was not completed: the run reached its deadline');
    expect(clock.now() - 1_000_000).toBe(0);
    expect(c.deadlineAt).toBe(1_000_500);
  });

  it.each(['AbortError', 'TimeoutError'])(
    'takes a call the SDK ended with %s for one cut off at the deadline',
    async (name) => {
      const c = caller(60_000);
      await expect(
        c.call('ListCommands', async () => {
          throw awsError(name);
        }),
      ).rejects.toThrow(new DeadlineError('ListCommands was not completed: the run reached its deadline'));
    },
  );

  it('names a DeadlineError as such in a report sentence', () => {
    expect(errorName(new DeadlineError('ListCommands was not completed'))).toBe(
      'DeadlineError: ListCommands was not completed',
    );
  });

  it('passes other errors through untouched', async () => {
    const c = caller(60_000);
    await expect(
      c.call('SendCommand', async () => {
        throw awsError('InvalidInstanceId');
      }),
    ).rejects.toMatchObject({ name: 'InvalidInstanceId' });
  });

  it('hands the SDK an abort signal that fires at the deadline', async () => {
    // Prepare: a clock that stands still, so 200 ms are always left when the call starts,
    // however slow the machine (a real clock could pass the deadline before the call is made)
    const clock = fakeClock();
    const c = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 100, burst: 100, ...clock }),
      deadlineAt: clock.now() + 200,
      ...clock,
    });
    const signals: AbortSignal[] = [];

    // Act
    const call = c.call('ListCommands', (signal) => {
      signals.push(signal);
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(awsError('AbortError'))),
      );
    });

    // Assess: the call was made with a signal, and its firing ends the call as past the deadline
    await expect(call).rejects.toBeInstanceOf(DeadlineError);
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('makes no call at all after the deadline', async () => {
    const c = caller(-1);
    let called = false;
    await expect(
      c.call('SendCommand', async () => {
        called = true;
      }),
    ).rejects.toBeInstanceOf(DeadlineError);
    expect(called).toBe(false);
  });

  it('refuses a call at the deadline at once, without waiting for its turn in the pacer', async () => {
    // Prepare: no time left, and a bucket just drained by a throttle
    const clock = fakeClock();
    const pacer = new Pacer({ ratePerSecond: 1, burst: 1, ...clock });
    const c = new AwsCaller({ pacer, deadlineAt: clock.now(), ...clock });
    pacer.drain('SendCommand');

    // Act
    const call = c.call('SendCommand', async () => {});

    // Assess
    await expect(call).rejects.toThrow('SendCommand was not completed: the run reached its deadline');
    expect(clock.now() - 1_000_000).toBe(0);
  });

  it('makes no call when its turn in the pacer comes after the deadline', async () => {
    // Prepare: one call a second, and half a second left after the first call
    const clock = fakeClock();
    const c = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: 1, burst: 1, ...clock }),
      deadlineAt: clock.now() + 500,
      ...clock,
    });
    const sent: string[] = [];
    await c.call('SendCommand', async () => {
      sent.push('first');
    });

    // Act
    const second = c.call('SendCommand', async () => {
      sent.push('second');
    });

    // Assess: it waited its turn (1 s), found the deadline passed, and sent nothing
    await expect(second).rejects.toThrow('SendCommand was not completed: the run reached its deadline');
    expect(sent).toEqual(['first']);
    expect(clock.now() - 1_000_000).toBe(1000);
  });

  it('knows the throttling error names of SSM and EC2', () => {
    expect(isThrottle(awsError('ThrottlingException'))).toBe(true);
    expect(isThrottle(awsError('RequestLimitExceeded'))).toBe(true);
    expect(isThrottle(awsError('InvalidInstanceId'))).toBe(false);
  });
});
