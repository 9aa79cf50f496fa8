import { randomBytes } from 'node:crypto';
import type { Backend } from '@redbrick/core';
import { createMemoryBackend, type MemoryBackend } from '@redbrick/memory-backend';
import type { Algorithm } from '../src/index.js';

export const ALGORITHMS: readonly Algorithm[] = [
  'fixed-window',
  'sliding-window',
  'sliding-log',
  'token-bucket',
  'gcra',
];

/** Algorithms that admit exactly `limit` from an empty state (all but the approximate counter). */
export const EXACT: readonly Algorithm[] = ['fixed-window', 'sliding-log', 'token-bucket', 'gcra'];

/** A fresh random name, so every test works on its own keys. */
export function fresh(prefix = 't'): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A controllable clock. */
export interface FakeClock {
  (): number;
  set(t: number): void;
  advance(ms: number): void;
}

/** A fake clock starting at `start` (Unix ms). */
export function fakeClock(start = Date.UTC(2025, 0, 15, 12, 0, 0)): FakeClock {
  let t = start;
  const clock = (() => t) as FakeClock;
  clock.set = (v) => {
    t = v;
  };
  clock.advance = (ms) => {
    t += ms;
  };
  return clock;
}

/** A memory backend on a fake clock (the limiter reads this clock as the server time). */
export function memoryWithClock(clock: FakeClock): MemoryBackend {
  return createMemoryBackend({ clock, activeExpiry: false });
}

/** Every key of a backend (memory or one Redis; on cluster SCAN covers every primary). */
export async function allKeys(backend: Backend): Promise<string[]> {
  const keys: string[] = [];
  for await (const k of backend.scan({ match: '*' })) keys.push(k);
  return keys.sort();
}
