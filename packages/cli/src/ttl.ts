import type { Backend } from '@redbrick/core';
import { ValidationError } from '@redbrick/core';

/** Options of {@link setTtl}: exactly one of `seconds` and `persist`. */
export interface SetTtlOptions {
  /** SCAN glob of the keys to change. */
  match: string;
  /** Give every matching key this TTL, in seconds (a positive integer). */
  seconds?: number;
  /** Remove the TTL of every matching key. */
  persist?: boolean;
  /** Only count, change nothing. @default false */
  dryRun?: boolean;
}

/** What {@link setTtl} changed. */
export interface SetTtlResult {
  /** Keys that matched. */
  matched: number;
  /** Keys changed (0 on a dry run). */
  changed: number;
}

const PKG = '[redbrick/cli]';

/** Sets (or with `persist` removes) the TTL of every key matching `match`, 500 keys per round trip. */
export async function setTtl(backend: Backend, options: SetTtlOptions): Promise<SetTtlResult> {
  const { match, seconds, persist } = options;
  if (typeof match !== 'string' || match.length === 0) {
    throw new ValidationError(`${PKG} match must be a non-empty glob pattern`, { field: 'match' });
  }
  if ((seconds === undefined) === (persist !== true)) {
    throw new ValidationError(`${PKG} give exactly one of seconds and persist`, {
      field: 'seconds',
    });
  }
  if (seconds !== undefined && (!Number.isInteger(seconds) || seconds <= 0)) {
    throw new ValidationError(`${PKG} seconds must be a positive integer (got ${seconds})`, {
      field: 'seconds',
    });
  }
  let matched = 0;
  let changed = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0 || options.dryRun) {
      batch = [];
      return;
    }
    const p = backend.pipeline();
    for (const k of batch) {
      if (seconds !== undefined) p.add('pexpire', k, seconds * 1000);
      else p.add('persist', k);
    }
    for (const r of await p.exec()) {
      if (!r.ok) throw r.error;
      if (r.value === true) changed++;
    }
    batch = [];
  };
  for await (const k of backend.scan({ match, count: 500 })) {
    matched++;
    batch.push(k);
    if (batch.length >= 500) await flush();
  }
  await flush();
  return { matched, changed };
}
