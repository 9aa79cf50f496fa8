import { describe, matchGlob, type ScanOptions, ValidationError } from '@redbrick/core';
import { checkInteger } from './arguments.js';
import { PKG } from './errors.js';
import type { Keyspace } from './keyspace.js';

const TYPES = new Set(['string', 'hash', 'list', 'set', 'zset', 'stream']);

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * SCAN over the keyspace. It walks a live iterator of the key Map: a Map
 * iterator visits every key present for the whole scan, even while keys are
 * added and deleted between steps (a key moved to the end by an LRU access
 * may come twice) — the guarantee Redis' SCAN gives — with no copy of the
 * keyspace. Between steps of `count` keys it yields to the
 * event loop, so a long scan never blocks other work.
 */
export async function* scanKeys(
  keyspace: Keyspace,
  options: ScanOptions | undefined,
  checkOpen: () => void,
): AsyncGenerator<string, void, undefined> {
  checkOpen();
  const match = options?.match ?? '*';
  if (typeof match !== 'string') {
    throw new ValidationError(`${PKG} scan: match must be a string, got ${describe(match)}`, {
      field: 'match',
    });
  }
  const count = options?.count ?? 100;
  checkInteger(count, 'count', 1);
  const type = options?.type;
  if (type !== undefined && !TYPES.has(type)) {
    throw new ValidationError(
      `${PKG} scan: type must be one of ${[...TYPES].join(', ')}, got ${describe(type)}`,
      { field: 'type' },
    );
  }
  const all = match === '*';
  const keys = keyspace.map.keys();
  const batch: string[] = [];
  for (;;) {
    let done = false;
    for (let examined = 0; examined < count; examined++) {
      const next = keys.next();
      if (next.done) {
        done = true;
        break;
      }
      const key = next.value;
      if (!all && !matchGlob(match, key)) continue;
      const entry = keyspace.peek(key); // skips (and removes) expired keys
      if (entry === undefined || (type !== undefined && entry.type !== type)) continue;
      batch.push(key);
    }
    for (const key of batch) yield key;
    batch.length = 0;
    if (done) return;
    await nextTurn();
    checkOpen();
  }
}
