import type { Hono } from 'hono';
import { z } from 'zod';
import { readJson } from '../body.js';
import { type DemoEnv, requireSession, type Services } from '../context.js';
import { ApiError } from '../errors.js';

const topic = z.string().regex(/^[a-z0-9-]{1,40}$/i);
const documentBody = z.object({
  title: z.string().trim().min(1).max(120),
  text: z.string().min(1).max(20_000),
  workspace: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/i, 'letters, digits or "-", 1 to 32 characters')
    .default('general'),
});
const reminderBody = z.object({
  text: z.string().trim().min(1).max(200),
  inSeconds: z.number().int().min(1).max(3600),
});

/** The things a user does: checkout, cached lookups, documents, reminders. */
export function workRoutes(app: Hono<DemoEnv>, s: Services): void {
  app.get('/api/ping', (c) => {
    requireSession(c);
    return c.json({ ok: true, at: Date.now() });
  });

  app.post('/api/checkout', async (c) => {
    const { tenant, user } = requireSession(c);
    const result = await s.checkout.checkout(tenant);
    await s.events.emit(tenant, 'checkout', { user, count: result.count, fence: result.fence });
    return c.json(result);
  });

  app.get('/api/answers/:topic', async (c) => {
    const { tenant } = requireSession(c);
    const parsed = topic.safeParse(c.req.param('topic'));
    if (!parsed.success) {
      throw new ApiError(400, 'VALIDATION', 'topic: letters, digits or "-", 1 to 40 characters');
    }
    return c.json(await s.upstream.lookup(tenant, parsed.data));
  });

  app.post('/api/documents', async (c) => {
    const { tenant, user } = requireSession(c);
    const body = await readJson(c, documentBody);
    const jobId = await s.documents.submit({ tenant, user, ...body });
    await s.events.emit(tenant, 'job.queued', { jobId, title: body.title, user });
    return c.json({ jobId }, 202);
  });

  app.post('/api/reminders', async (c) => {
    const { tenant, user } = requireSession(c);
    const body = await readJson(c, reminderBody);
    const id = await s.reminders.schedule(tenant, user, body.text, body.inSeconds * 1000);
    return c.json({ id, dueInSeconds: body.inSeconds }, 202);
  });

  app.get('/api/usage', async (c) => {
    const { tenant } = requireSession(c);
    return c.json({ workspaces: await s.usage.board(tenant) });
  });
}
