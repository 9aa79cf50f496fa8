import { describeFaults, sleep, until } from '@redbrick/testkit';
import { expect, it, vi } from 'vitest';
import { Triggers, triggerKeys } from '../src/index.js';

/*
 * The default logging of a Triggers worker while Redis is down (SIGKILL of the throwaway server,
 * or of every cluster node): one line when polling starts failing, one when it works again, and
 * nothing for the failed polls in between — not a stack trace per poll.
 */
describeFaults('Triggers default logging with Redis killed', { prefix: 'tr' }, (ctx) => {
  it('logs the outage once (one line, with the error code) and its recovery once', {
    timeout: 90_000,
  }, async () => {
    const { world, servers } = ctx;
    const backend = await world.client({ redis: { commandTimeoutMs: 300 } });
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      lines.push(
        args.map((a) => (a instanceof Error ? (a.stack ?? a.message) : String(a))).join(' '),
      );
    });
    const triggers = new Triggers({ backend, name: 'down', pollMs: 20 });
    const fired: string[] = [];
    triggers.onFire((t) => {
      fired.push(t.id);
    });
    try {
      await triggers.schedule('a', 'before', { inMs: 0 });
      await until('the first trigger', () => fired.includes('before'));
      // Its acknowledgement done, so no trigger is in flight when the server dies.
      await until(
        'the claim released',
        async () => (await backend.zcard(triggerKeys('down').claimed)) === 0,
      );
      expect(lines).toEqual([]);

      await Promise.all(servers.map((s) => s.kill()));
      // Polling every 20 ms: dozens of failed polls during this wait.
      await sleep(1500);
      expect(lines, lines.join('\n---\n')).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^\[redbrick\/tenant-repos\] triggers "down": polling failed \([A-Z_]+: [^\n]+\); retrying every 20 ms, reported again once it recovers$/,
      );
      expect(lines[0]).toContain('(BACKEND_UNAVAILABLE: ');

      await Promise.all(servers.map((s) => s.restart()));
      await until('the recovery line', () => lines.length >= 2, 60_000);
      const failed = Number(/after (\d+) failed poll\(s\)$/.exec(lines[1] ?? '')?.[1]);
      expect(lines[1]).toMatch(
        /^\[redbrick\/tenant-repos\] triggers "down": polling works again after \d+ failed poll\(s\)$/,
      );
      expect(failed).toBeGreaterThan(20);

      await triggers.schedule('a', 'after', { inMs: 0 });
      await until('a trigger after the restart', () => fired.includes('after'), 30_000);
      expect(lines, lines.join('\n---\n')).toHaveLength(2);
    } finally {
      await triggers.close();
      spy.mockRestore();
    }
  });
});
