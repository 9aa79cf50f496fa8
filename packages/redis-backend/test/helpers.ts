import { isRedbrickError, type RedbrickErrorCode } from '@redbrick/core';
import { expect } from 'vitest';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns true (errors count as "not yet"); fails after `timeoutMs`. */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      last = error;
    }
    await sleep(25);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
  );
}

/** Awaits a promise that must reject with a redbrick error of `code`; returns the error and how long it took. */
export async function rejection(
  promise: Promise<unknown>,
  code: RedbrickErrorCode,
): Promise<{ error: Error & { code: string }; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    const ms = performance.now() - started;
    expect(isRedbrickError(error, code), `expected code ${code}, got ${String(error)}`).toBe(true);
    return { error: error as Error & { code: string }, ms };
  }
  throw new Error(`expected a rejection with code ${code}, but the promise resolved`);
}

let counter = 0;
/** A fresh key prefix for one test. */
export function fresh(name: string): string {
  counter += 1;
  return `${name}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
