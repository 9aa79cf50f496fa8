import { randomBytes } from 'node:crypto';
import { createBackend } from '@redbrick/core';
import { testTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import { Batches, ThreadBuffer, Triggers, triggerKeys } from '../src/index.js';
import { startWorker, type Worker } from './support/processes.js';

/*
 * Real concurrency: several worker processes, each with its own connection, on one Redis
 * (and on the Cluster), started together.
 */
const remote = testTargets().filter((t) => t.name !== 'memory');

async function started(jobs: Array<Record<string, unknown>>): Promise<Worker[]> {
  const workers = jobs.map((job) => startWorker(job));
  for (const w of workers) await w.next();
  for (const w of workers) w.send({ go: true });
  return workers;
}

async function finish(workers: Worker[]): Promise<void> {
  for (const w of workers) {
    const { code, stderr } = await w.exited;
    expect(code, stderr).toBe(0);
  }
}

describe.each(remote)('concurrency across processes on $name', (target) => {
  it('registry get-or-create returns one uuid per chain across 4 processes', async () => {
    const config = await target.config();
    const prefix = `trp-${randomBytes(4).toString('hex')}`;
    const chains = Array.from({ length: 60 }, (_, i) => `chain-${i}`);
    const workers = await started(
      Array.from({ length: 4 }, (_, id) => ({
        mode: 'registry',
        config,
        prefix,
        // every worker asks for every chain, in its own order
        chains: id % 2 ? [...chains].reverse() : chains,
      })),
    );
    const answers = await Promise.all(
      workers.map((w) => w.next<{ results: Array<[string, string]> }>()),
    );
    await finish(workers);
    const byChain = new Map<string, Set<string>>();
    for (const { results } of answers) {
      for (const [chain, uuid] of results) {
        const set = byChain.get(chain) ?? new Set<string>();
        set.add(uuid);
        byChain.set(chain, set);
      }
    }
    expect(byChain.size).toBe(60);
    for (const set of byChain.values()) expect(set.size).toBe(1);
    const all = [...byChain.values()].map((s) => [...s][0]);
    expect(new Set(all).size).toBe(60);
  });

  it('buffer appends from 3 processes get unique, dense indexes', async () => {
    const config = await target.config();
    const prefix = `trp-${randomBytes(4).toString('hex')}`;
    const workers = await started(
      Array.from({ length: 3 }, (_, id) => ({
        mode: 'append',
        config,
        prefix,
        id,
        thread: 't:1',
        count: 100,
      })),
    );
    const answers = await Promise.all(workers.map((w) => w.next<{ indexes: number[] }>()));
    await finish(workers);
    const indexes = answers.flatMap((a) => a.indexes).sort((a, b) => a - b);
    expect(indexes).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await using root = await createBackend(config);
    const slots = await new ThreadBuffer<string>({ backend: root.scoped(prefix) }).getThread('t:1');
    for (const [id, a] of answers.entries()) {
      for (const [i, index] of a.indexes.entries()) expect(slots[index]).toBe(`${id}:${i}`);
    }
  });

  it('batch drains in 2 processes under enqueues from 3 processes lose and duplicate nothing', async () => {
    const config = await target.config();
    const prefix = `trp-${randomBytes(4).toString('hex')}`;
    const tenant = 'acme:{x}*';
    const enqueuers = await started(
      Array.from({ length: 3 }, (_, id) => ({
        mode: 'enqueue',
        config,
        prefix,
        tenant,
        id,
        count: 200,
      })),
    );
    const drainers = await started(
      Array.from({ length: 2 }, () => ({ mode: 'drain', config, prefix, tenant, max: 7 })),
    );
    await Promise.all(enqueuers.map((w) => w.next()));
    await finish(enqueuers);
    for (const w of drainers) w.send({ stop: true });
    const drainedBy = await Promise.all(drainers.map((w) => w.next<{ drained: string[] }>()));
    const drained = drainedBy.flatMap((d) => d.drained);
    await finish(drainers);
    await using root = await createBackend(config);
    const batches = new Batches<string>({ backend: root.scoped(prefix), tenant });
    // The drainers called pendingTenants between drains, racing the enqueuers: the tenant is
    // listed exactly when something is left.
    const left = await batches.pending('s', 'e', 'a');
    expect(await batches.pendingTenants('s')).toEqual(left > 0 ? [tenant] : []);
    const rest = await batches.drain('s', 'e', 'a', 10_000);
    expect(await batches.pendingTenants('s')).toEqual([]);
    const all = [...drained, ...rest].sort();
    const expected = [0, 1, 2]
      .flatMap((id) => Array.from({ length: 200 }, (_, i) => `${id}:${i}`))
      .sort();
    expect(all).toEqual(expected);
    // each drainer takes every producer's items in the order they were enqueued
    for (const { drained: mine } of drainedBy) {
      for (const id of [0, 1, 2]) {
        const seq = mine.filter((s) => s.startsWith(`${id}:`)).map((s) => Number(s.split(':')[1]));
        expect(seq).toEqual([...seq].sort((a, b) => a - b));
      }
    }
  });

  it('3 worker processes fire 500 triggers exactly once, including those due while all were down', async () => {
    const config = await target.config();
    const prefix = `trp-${randomBytes(4).toString('hex')}`;
    await using root = await createBackend(config);
    const backend = root.scoped(prefix);
    const scheduler = new Triggers({ backend });
    // 250 fall due before any worker runs
    for (let i = 0; i < 250; i++) await scheduler.schedule('early', `id-${i}`, { inMs: 0 });
    const workers = await started(
      Array.from({ length: 3 }, () => ({ mode: 'triggers', config, prefix })),
    );
    for (let i = 0; i < 250; i++) {
      await scheduler.schedule('late', `id-${i}`, { inMs: 50 + (i % 10) * 50 });
    }
    const keys = triggerKeys('default');
    const deadline = Date.now() + 30_000;
    while ((await backend.zcard(keys.due)) + (await backend.zcard(keys.claimed)) > 0) {
      if (Date.now() > deadline) throw new Error('triggers did not all fire within 30 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const w of workers) w.send({ stop: true });
    const reports = await Promise.all(workers.map((w) => w.next<{ fired: string[] }>()));
    await finish(workers);
    const fired = reports.flatMap((r) => r.fired);
    expect(fired.length).toBe(500);
    expect(new Set(fired).size).toBe(500);
    // the work was shared: more than one worker fired something
    expect(reports.filter((r) => r.fired.length > 0).length).toBeGreaterThan(1);
  });
});
