import { compareAndSet, compareAndSetScript } from '@redbrick/core';
import { createMemoryBackend } from '@redbrick/memory-backend';
import type { Scenario } from '../harness.js';

const KEYS = 1000;
const keys = Array.from({ length: KEYS }, (_, i) => `bench:key:${i}`);
const value = 'v'.repeat(64);

/**
 * The memory backend next to a plain `Map` doing the same work. The Map is
 * the floor: what any in-process store costs at least. Both sides are awaited,
 * since the Backend API is promise-based.
 */
export const memoryBackendScenarios: Scenario[] = [
  {
    package: 'memory-backend',
    name: 'GET',
    backend: 'memory',
    baseline: 'Map',
    inFlight: 1,
    batch: 100,
    async setup() {
      const backend = createMemoryBackend();
      const map = new Map<string, string>();
      for (const k of keys) {
        await backend.set(k, value);
        map.set(k, value);
      }
      let i = 0;
      let j = 0;
      return {
        redbrick: () => backend.get(keys[i++ % KEYS] as string),
        baseline: async () => map.get(keys[j++ % KEYS] as string) ?? null,
        async check() {
          if ((await backend.get(keys[0] as string)) !== value)
            throw new Error('memory GET returned a wrong value');
        },
        teardown: () => backend.close(),
      };
    },
  },
  {
    package: 'memory-backend',
    name: 'SET',
    backend: 'memory',
    baseline: 'Map',
    inFlight: 1,
    batch: 100,
    async setup() {
      const backend = createMemoryBackend();
      const map = new Map<string, { value: string; expiresAt: number }>();
      let i = 0;
      let j = 0;
      return {
        redbrick: () => backend.set(keys[i++ % KEYS] as string, value),
        // The same work a faithful SET does: replace the value and clear the TTL.
        baseline: async () => {
          map.set(keys[j++ % KEYS] as string, { value, expiresAt: 0 });
          return true;
        },
        async check() {
          if ((await backend.get(keys[1] as string)) !== value)
            throw new Error('memory SET did not store');
        },
        teardown: () => backend.close(),
      };
    },
  },
  {
    package: 'memory-backend',
    name: 'script (compare-and-set)',
    backend: 'memory',
    baseline: 'Map',
    inFlight: 1,
    batch: 100,
    async setup() {
      const backend = createMemoryBackend();
      const map = new Map<string, string>();
      for (const k of keys) {
        await backend.set(k, 'a');
        map.set(k, 'a');
      }
      let i = 0;
      let j = 0;
      const flip = (n: number) => (n % 2 === 0 ? ['a', 'b'] : ['b', 'a']);
      return {
        redbrick: () => {
          const n = i++;
          const [from, to] = flip(Math.floor(n / KEYS));
          return compareAndSet(backend, keys[n % KEYS] as string, from as string, to as string);
        },
        baseline: async () => {
          const n = j++;
          const [from, to] = flip(Math.floor(n / KEYS));
          const k = keys[n % KEYS] as string;
          if (map.get(k) !== from) return false;
          map.set(k, to as string);
          return true;
        },
        async check() {
          const k = keys[2] as string;
          const cur = await backend.get(k);
          const ok = await backend.run(compareAndSetScript, [k], ['v', 'nope', 'x', '']);
          if (ok || (await backend.get(k)) !== cur)
            throw new Error('memory compare-and-set wrote on a mismatch');
        },
        teardown: () => backend.close(),
      };
    },
  },
];
