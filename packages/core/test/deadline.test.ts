import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, withDeadline } from '../src/index.js';

const timeout = () => new BackendUnavailableError('took too long');
const never = () => new Promise<never>(() => undefined);

describe('withDeadline', () => {
  it('settles like the work when it is in time', async () => {
    await expect(withDeadline(Promise.resolve(42), 100, timeout)).resolves.toBe(42);
    const failure = new Error('work failed');
    await expect(withDeadline(Promise.reject(failure), 100, timeout)).rejects.toBe(failure);
  });

  it('rejects with onTimeout() after the deadline, not before and at most one sweep later', async () => {
    const started = performance.now();
    const error = await withDeadline(never(), 100, timeout).catch((e: unknown) => e);
    const ms = performance.now() - started;
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as Error).message).toBe('took too long');
    expect(ms).toBeGreaterThanOrEqual(99);
    expect(ms).toBeLessThan(100 + 10 + 60);
  });

  it('bounds many calls with different deadlines, each at its own', async () => {
    const started = performance.now();
    const settled = await Promise.all(
      [30, 90, 60, 150].map((ms) =>
        withDeadline(never(), ms, timeout).catch(() => Math.round(performance.now() - started)),
      ),
    );
    settled.forEach((at, i) => {
      const ms = [30, 90, 60, 150][i] as number;
      expect(at).toBeGreaterThanOrEqual(ms - 1);
      expect(at).toBeLessThan(ms + 10 + 60);
    });
  });

  it('drops a result that comes after the deadline', async () => {
    let finish: (value: string) => void = () => undefined;
    const late = new Promise<string>((resolve) => {
      finish = resolve;
    });
    const outcome = withDeadline(late, 20, timeout).then(
      (value) => `resolved ${value}`,
      (error: Error) => `rejected ${error.message}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    finish('too late');
    expect(await outcome).toBe('rejected took too long');
  });

  it('keeps every call apart when many settle and time out in any order (fuzzed)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            settleAfterMs: fc.option(fc.integer({ min: 0, max: 25 }), { nil: undefined }),
            fails: fc.boolean(),
            deadlineMs: fc.integer({ min: 30, max: 45 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        async (calls) => {
          const started = performance.now();
          const outcomes = await Promise.all(
            calls.map(({ settleAfterMs, fails, deadlineMs }, i) => {
              const work =
                settleAfterMs === undefined
                  ? never()
                  : new Promise<number>((resolve, reject) =>
                      setTimeout(
                        () => (fails ? reject(new Error(`work ${i}`)) : resolve(i)),
                        settleAfterMs,
                      ),
                    );
              return withDeadline(work, deadlineMs, timeout).then(
                (value) => `ok ${value}`,
                (error: Error) =>
                  error instanceof BackendUnavailableError
                    ? `timeout after ${performance.now() - started >= deadlineMs - 1}`
                    : error.message,
              );
            }),
          );
          outcomes.forEach((outcome, i) => {
            const { settleAfterMs, fails } = calls[i] as (typeof calls)[number];
            // every settle (≤ 25 ms) comes before every deadline (≥ 30 ms)
            if (settleAfterMs === undefined) expect(outcome).toBe('timeout after true');
            else expect(outcome).toBe(fails ? `work ${i}` : `ok ${i}`);
          });
        },
      ),
      { numRuns: 25 },
    );
  });
});
