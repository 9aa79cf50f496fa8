import { worldTargets } from '@redbrick/testkit';
import { describe, expect, it } from 'vitest';
import type { DemoEvent } from '../src/events.js';
import { estimateTokens } from '../src/usage.js';
import { openDemo } from './support/demo.js';

async function waitFor(what: string, probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.each(worldTargets({ prefix: 'demo' }))('documents on $name', (t) => {
  it('a submitted document is processed with progress, metered and remembered', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world);
    const events: DemoEvent[] = [];
    demo.services.events.listen((e) => events.push(e));
    const ada = demo.client();
    await ada.login('acme', 'ada');
    const text = 'one two three four five six seven eight nine ten';
    const r = await ada.post('/api/documents', { title: 'Memo', text, workspace: 'legal' });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    const jobId = r.body.jobId as string;
    expect(jobId).toEqual(expect.any(String));
    const mine = () => events.filter((e) => e.data.jobId === jobId);
    await waitFor('job.completed', () => mine().some((e) => e.type === 'job.completed'));
    const progress = mine()
      .filter((e) => e.type === 'job.progress')
      .map((e) => e.data.progress);
    expect(progress).toEqual([20, 40, 60, 80, 100]);
    const tokens = estimateTokens(text);
    expect(mine().find((e) => e.type === 'job.completed')?.data).toMatchObject({
      tokens,
      workspace: 'legal',
    });

    const usage = (await ada.get('/api/usage')).body.workspaces;
    expect(usage).toEqual([
      expect.objectContaining({
        workspace: 'legal',
        tokens,
        requests: 1,
        remaining: 20_000 - tokens,
      }),
    ]);
    const me = (await ada.get('/api/me')).body;
    expect(me.handlerState).toMatchObject({ documents: 1, lastTitle: 'Memo', lastTokens: tokens });
    expect(me.profile.documents).toBe(1);
    const stats = (await ada.get('/api/stats')).body;
    expect(stats.queue.counts.completed).toBeGreaterThanOrEqual(1);
  });

  it('closing the demo lets the running job finish', async () => {
    await using world = await t.open();
    const demo = await openDemo(world, { documents: { stepMs: 100 } });
    const events: DemoEvent[] = [];
    demo.services.events.listen((e) => events.push(e));
    const ada = demo.client();
    await ada.login('acme', 'ada');
    const { jobId } = (await ada.post('/api/documents', { title: 'Late', text: 'a b c' })).body;
    await waitFor('the job to start', () =>
      events.some((e) => e.type === 'job.progress' && e.data.jobId === jobId),
    );
    await demo.close();
    // The job ran to the end before close resolved: its usage is recorded and its
    // completion is in the tenant's recent events (written before it is published).
    expect(await demo.services.usage.board('acme')).toEqual([
      expect.objectContaining({
        workspace: 'general',
        tokens: estimateTokens('a b c'),
        requests: 1,
      }),
    ]);
    const recent = await demo.services.events.recent('acme');
    expect(recent.some((e) => e.type === 'job.completed' && e.data.jobId === jobId)).toBe(true);
  });
});
