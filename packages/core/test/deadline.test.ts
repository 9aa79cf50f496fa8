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
            // the turn (a microtask each) at which the work settles; undefined: it never does
            settleAt: fc.option(fc.nat({ max: 60 }), { nil: undefined }),
            fails: fc.boolean(),
            deadlineMs: fc.integer({ min: 20, max: 40 }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        async (calls) => {
          const started = performance.now();
          const settlers: Array<() => void> = [];
          const outcomes = Promise.all(
            calls.map(({ settleAt, fails, deadlineMs }, i) => {
              const work = new Promise<number>((resolve, reject) => {
                if (settleAt !== undefined)
                  settlers[i] = () => (fails ? reject(new Error(`work ${i}`)) : resolve(i));
              });
              return withDeadline(work, deadlineMs, timeout).then(
                (value) => `ok ${value}`,
                (error: Error) =>
                  error instanceof BackendUnavailableError
                    ? `timeout after ${performance.now() - started >= deadlineMs - 1}`
                    : error.message,
              );
            }),
          );
          // Settle in the generated order, one microtask turn apart: all of it happens before any
          // timer (the sweep included) can run, however loaded the machine is.
          for (let turn = 0; turn <= 60; turn++) {
            calls.forEach(({ settleAt }, i) => {
              if (settleAt === turn) settlers[i]?.();
            });
            await Promise.resolve();
          }
          (await outcomes).forEach((outcome, i) => {
            const { settleAt, fails } = calls[i] as (typeof calls)[number];
            if (settleAt === undefined) expect(outcome).toBe('timeout after true');
            else expect(outcome).toBe(fails ? `work ${i}` : `ok ${i}`);
          });
        },
      ),
      { numRuns: 25 },
    );
  });
});
