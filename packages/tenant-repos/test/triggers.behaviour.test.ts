import { sleep, until, type World, worldTargets } from '@redbrick/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FiredTrigger, Triggers } from '../src/index.js';

describe.each(worldTargets({ prefix: 'tr' }))('Triggers on $name', (repo) => {
  let world: World;
  const opened: Triggers[] = [];
  beforeEach(async () => {
    world = await repo.open();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((t) => t.close()));
    await world.close();
  });
  const make = (backend = world.backend) => {
    const t = new Triggers({ backend, pollMs: 20 });
    opened.push(t);
    return t;
  };

  it('fires due triggers once, not the ones still ahead or cancelled', async () => {
    const triggers = make();
    const fired: FiredTrigger[] = [];
    await triggers.schedule('remind', 'u:1', { inMs: 0 });
    await triggers.schedule('remind', 'u:2', { inMs: 0 });
    await triggers.schedule('expire', 'u:1', { inMs: 3_600_000 });
    await triggers.schedule('cancelled', 'u:3', { inMs: 0 });
    expect(await triggers.cancel('cancelled', 'u:3')).toBe(true);
    expect(await triggers.cancel('cancelled', 'u:3')).toBe(false);
    triggers.onFire((t) => {
      fired.push(t);
    });
    await until('two triggers', () => fired.length >= 2);
    await sleep(100);
    expect(fired.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([
      { action: 'remind', id: 'u:1' },
      { action: 'remind', id: 'u:2' },
    ]);
    expect(await triggers.cancelAllFor('u:1')).toBe(1);
  });

  it('a trigger whose handler failed fires again after its lease', async () => {
    const triggers = new Triggers({
      backend: world.backend,
      pollMs: 20,
      leaseMs: 200,
      onError: () => {},
    });
    opened.push(triggers);
    let calls = 0;
    triggers.onFire(() => {
      calls++;
      if (calls === 1) throw new Error('first attempt fails');
    });
    await triggers.schedule('a', 'x', { inMs: 0 });
    await until('the retry', () => calls >= 2);
    await sleep(300);
    expect(calls).toBe(2);
  });

  it('two workers on separate connections fire each trigger exactly once', async () => {
    const a = make();
    const b = make(await world.client());
    const seen: string[] = [];
    a.onFire((t) => {
      seen.push(t.id);
    });
    b.onFire((t) => {
      seen.push(t.id);
    });
    for (let i = 0; i < 100; i++) await a.schedule('go', `id-${i}`, { inMs: i % 3 === 0 ? 0 : 50 });
    await until('100 triggers', () => seen.length >= 100);
    await sleep(150);
    expect(seen.length).toBe(100);
    expect(new Set(seen).size).toBe(100);
  });
});

describe.each(worldTargets({ prefix: 'tr' }).filter((t) => t.name === 'redis'))(
  'Triggers with Redis killed on $name',
  (repo) => {
    it('reports a polling outage once (and its recovery once), then fires again', {
      timeout: 30_000,
    }, async () => {
      await using world = await repo.open();
      const [server] = await world.servers();
      if (!server) throw new Error('no throwaway server to kill');
      const backend = await world.client({ redis: { commandTimeoutMs: 300 } });
      const errors: Array<{ trigger: FiredTrigger; code: unknown }> = [];
      const recoveries: number[] = [];
      const triggers = new Triggers({
        backend,
        pollMs: 20,
        // Poll failures only: a trigger whose handler ran just before the kill may also fail to be
        // marked done (it fires again after its lease), which is reported per trigger.
        onError: (error, trigger) => {
          if (trigger.action === '(poll)')
            errors.push({ trigger, code: (error as { code?: unknown }).code });
        },
        onRecover: (failed) => recoveries.push(failed),
      });
      const fired: string[] = [];
      triggers.onFire((t) => {
        fired.push(t.id);
      });
      try {
        await triggers.schedule('a', 'before', { inMs: 0 });
        await until('the first trigger', () => fired.includes('before'));

        for (let outage = 1; outage <= 2; outage++) {
          await server.kill();
          // ~25 polls at 20 ms fail during this wait; one report
          await sleep(600);
          expect(errors, JSON.stringify({ errors, recoveries })).toHaveLength(outage);
          expect(errors[outage - 1]?.trigger).toEqual({ action: '(poll)', id: '' });
          expect(errors[outage - 1]?.code).toBe('BACKEND_UNAVAILABLE');
          await server.restart();
          await until(`recovery ${outage} reported`, () => recoveries.length === outage, 15_000);
          expect(recoveries[outage - 1]).toBeGreaterThan(5);
          await triggers.schedule('a', `after-${outage}`, { inMs: 0 });
          await until(`trigger after outage ${outage}`, () => fired.includes(`after-${outage}`));
        }
        expect(errors, JSON.stringify({ errors, recoveries })).toHaveLength(2);
      } finally {
        await triggers.close();
      }
    });
  },
);
