import { randomBytes } from 'node:crypto';
import type { Backend } from '@redbrick/core';
import { afterAll, beforeAll, expect } from 'vitest';

/** What a backend declares about itself; the suite adapts its checks. Every flag is optional. */
export interface ConformanceCapabilities {
  /**
   * Redis Cluster: multi-key commands and scripts across hash slots must
   * reject with code `CROSSSLOT` (checked), while keys sharing a `{hash tag}`
   * work. Publish counts are then not exact (a node counts its own clients).
   * @default false
   */
  cluster?: boolean;
  /** `onExpired` delivers expiry events (checked with generous deadlines). @default true */
  expiryEvents?: boolean;
  /** `xreadgroup` with `blockMs` waits for new entries. @default true */
  blocking?: boolean;
  /**
   * `publish` returns exactly how many subscriptions received a message.
   * @default true, false with `cluster`
   */
  exactPublishCount?: boolean;
  /** fast-check runs of each fuzzed property. @default 25 */
  fuzzRuns?: number;
}

export interface ResolvedCapabilities {
  cluster: boolean;
  expiryEvents: boolean;
  blocking: boolean;
  exactPublishCount: boolean;
  fuzzRuns: number;
}

/** What every group of tests gets: the backend under test and fresh, isolated key spaces. */
export interface ConformanceContext {
  readonly name: string;
  readonly capabilities: ResolvedCapabilities;
  /** The factory under test, for tests that need a backend of their own (close). */
  readonly makeBackend: () => Backend | Promise<Backend>;
  /** The backend shared by the describe block (created in beforeAll). */
  root(): Backend;
  /**
   * A view on a fresh random prefix (`rb-test-<suite>:<random>:`) nobody else
   * uses: tests never assume an empty keyspace and never FLUSHALL. Its keys
   * are deleted after the suite.
   */
  fresh(): Backend;
}

/** Deadline for anything that arrives asynchronously (messages, expiry events). */
export const EVENT_TIMEOUT_MS = 10_000;

export function randomName(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}

export function resolveCapabilities(c: ConformanceCapabilities = {}): ResolvedCapabilities {
  const cluster = c.cluster ?? false;
  return {
    cluster,
    expiryEvents: c.expiryEvents ?? true,
    blocking: c.blocking ?? true,
    exactPublishCount: c.exactPublishCount ?? !cluster,
    fuzzRuns: c.fuzzRuns ?? 25,
  };
}

/** Registers the beforeAll / afterAll of one conformance describe block. */
export function conformanceContext(
  name: string,
  makeBackend: () => Backend | Promise<Backend>,
  capabilities: ConformanceCapabilities | undefined,
): ConformanceContext {
  let backend: Backend | undefined;
  let base: Backend | undefined;
  beforeAll(async () => {
    backend = await makeBackend();
    base = backend.scoped(`rb-test-${randomName()}`);
  });
  afterAll(async () => {
    if (backend === undefined) return;
    try {
      if (base !== undefined && backend.isConnected) await deleteAll(base);
    } finally {
      await backend.close();
    }
  });
  return {
    name,
    capabilities: resolveCapabilities(capabilities),
    makeBackend,
    root() {
      if (backend === undefined) throw new Error('[redbrick/testkit] the backend was not created');
      return backend;
    },
    fresh() {
      if (base === undefined) throw new Error('[redbrick/testkit] the backend was not created');
      return base.scoped(randomName(4));
    },
  };
}

/** Deletes every key of a view, one key per command (works on Redis Cluster). */
export async function deleteAll(view: Backend): Promise<void> {
  let batch: string[] = [];
  const flush = async () => {
    const keys = batch;
    batch = [];
    await Promise.all(keys.map((k) => view.del(k)));
  };
  for await (const k of view.scan({ count: 1000 })) {
    batch.push(k);
    if (batch.length >= 200) await flush();
  }
  await flush();
}

// ------------------------------------------------------------------ helpers

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = EVENT_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

/**
 * The error `fn` throws or rejects with. Catches both, since a backend may
 * validate synchronously or in the promise. Fails when `fn` succeeds.
 */
export async function failure(
  fn: () => unknown,
): Promise<Error & { code?: unknown; field?: unknown }> {
  let result: unknown;
  try {
    result = await fn();
  } catch (error) {
    expect(error).toBeInstanceOf(Error);
    return error as Error & { code?: unknown; field?: unknown };
  }
  throw new Error(`expected a failure, got ${JSON.stringify(result)}`);
}

/** Expects `fn` to fail with a redbrick error of `code` whose message matches `message`. */
export async function expectCode(fn: () => unknown, code: string, message?: RegExp): Promise<void> {
  const error = await failure(fn);
  expect(error.code, `error code of: ${error.message}`).toBe(code);
  if (message) expect(error.message).toMatch(message);
}

/**
 * Expects a `VALIDATION` error naming `field` in `error.field` (exactly, or
 * matching a pattern) and in the message (or matching `message`).
 */
export async function expectValidation(
  fn: () => unknown,
  field: string | RegExp,
  message?: RegExp,
): Promise<void> {
  const error = await failure(fn);
  expect(error.code, `error code of: ${error.message}`).toBe('VALIDATION');
  if (typeof field === 'string') expect(error.field).toBe(field);
  else expect(String(error.field)).toMatch(field);
  if (message !== undefined) expect(error.message).toMatch(message);
  else if (typeof field === 'string') expect(error.message).toContain(field);
  else expect(error.message).toMatch(field);
}

/**
 * A hash tag every multi-key test shares, so multi-key commands and scripts
 * stay in one slot on Redis Cluster (the random prefix has no braces).
 */
export const T = '{t}';
