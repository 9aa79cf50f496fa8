import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorld, testTargets, type World, worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { restore } from '../src/index.js';
import { backupToString, generate, load, nasty, snapshot } from './support/data.js';

const dir = mkdtempSync(join(tmpdir(), 'redbrick-cli-rt-'));
let n = 0;
const file = (text: string) => {
  const f = join(dir, `b${n++}.jsonl`);
  writeFileSync(f, text);
  return f;
};

describe.each(worldTargets({ prefix: 'cli' }))('backup → restore on $name', (wt) => {
  it('is lossless for generated data of every type (binary-unsafe strings, unicode, TTLs)', async () => {
    for (const seed of [1, 2, 3]) {
      await using source = await wt.open();
      await using target = await wt.open();
      const data = generate(seed, 40);
      await load(source.backend, data);
      const text = await backupToString(source.backend);
      const result = await restore(target.backend, file(text));
      expect(result).toMatchObject({ restored: data.size, skipped: 0, errors: [] });
      expect(await snapshot(target.backend)).toEqual(await snapshot(source.backend));
      expect(Object.keys(await snapshot(target.backend))).toHaveLength(data.size);
    }
  });

  it('keeps every hostile string exactly (as key, field, member and value)', async () => {
    await using source = await wt.open();
    await using target = await wt.open();
    for (const [i, s] of nasty.entries()) {
      await source.backend.set(`s:${i}:${s}`, s);
      await source.backend.hset(`h:${i}`, { [s]: s });
      await source.backend.zadd(`z:${i}`, {
        member: s,
        score: i === 0 ? Number.POSITIVE_INFINITY : -i,
      });
    }
    await restore(target.backend, file(await backupToString(source.backend)));
    expect(await snapshot(target.backend)).toEqual(await snapshot(source.backend));
    expect(await target.backend.zscore('z:0', '')).toBe(Number.POSITIVE_INFINITY);
  });
});

it('round-trips Redis → memory → Redis (through every configured target and back)', async () => {
  const targets = testTargets();
  const order = ['redis', 'memory', 'cluster', 'redis'].flatMap((name) =>
    targets.filter((t) => t.name === name),
  );
  const chain = order.length > 0 ? order : targets;
  const worlds: World[] = [];
  try {
    for (const t of chain) worlds.push(await openWorld(t, { prefix: 'cli' }));
    const [first] = worlds;
    if (first === undefined) throw new Error('no target');
    const data = generate(42, 60);
    await load(first.backend, data);
    const expected = await snapshot(first.backend);
    expect(Object.keys(expected)).toHaveLength(data.size);
    for (let i = 1; i < worlds.length; i++) {
      const from = worlds[i - 1] as World;
      const to = worlds[i] as World;
      await restore(to.backend, file(await backupToString(from.backend)));
      expect({ hop: `${from.name} → ${to.name}`, data: await snapshot(to.backend) }).toEqual({
        hop: `${from.name} → ${to.name}`,
        data: expected,
      });
    }
  } finally {
    await Promise.all(worlds.map((w) => w.close()));
  }
});
