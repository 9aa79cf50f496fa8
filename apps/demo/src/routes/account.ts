import type { Hono } from 'hono';
import { deleteCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import { SESSION_COOKIE } from '../auth.js';
import { readJson } from '../body.js';
import { type DemoEnv, requireSession, type Services } from '../context.js';
import { findTenant, TENANTS } from '../tenants.js';

const userId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/i, 'letters, digits, ".", "_" or "-", 1 to 32 characters');
const displayName = z.string().trim().min(1).max(64);

const loginBody = z.object({
  tenant: z.string().min(1).max(64),
  user: userId,
  displayName: displayName.optional(),
});
const profileBody = z.object({ displayName });
const stateName = z.string().regex(/^[a-z0-9_-]{1,32}$/i);
const stateBody = z.record(
  z.string().max(64),
  z.union([z.string().max(200), z.number(), z.boolean()]),
);

/** Login, logout, the profile and the per-user states (tenant-repos). */
export function accountRoutes(app: Hono<DemoEnv>, s: Services): void {
  app.get('/api/tenants', (c) =>
    c.json({ tenants: TENANTS.map(({ id, name }) => ({ id, name })) }),
  );

  app.post('/api/login', async (c) => {
    const body = await readJson(c, loginBody);
    findTenant(body.tenant);
    const session = await s.auth.login(body.tenant, body.user, body.displayName);
    setCookie(c, SESSION_COOKIE, session.cookie, { httpOnly: true, sameSite: 'Lax', path: '/' });
    await s.events.emit(session.tenant, 'login', { user: session.user });
    return c.json({ tenant: session.tenant, user: session.user, displayName: session.displayName });
  });

  app.post('/api/logout', async (c) => {
    const session = c.get('session');
    if (session) await s.auth.logout(session.cookie);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ ok: true });
  });

  app.get('/api/me', async (c) => {
    const { tenant, user, displayName } = requireSession(c);
    const [profile, handlerState, sharedStates] = await Promise.all([
      s.profiles.profile(tenant, user),
      s.profiles.handlerState(tenant, user),
      s.profiles.sharedStates(tenant, user),
    ]);
    return c.json({ tenant, user, displayName, profile, handlerState, sharedStates });
  });

  app.put('/api/profile', async (c) => {
    const session = requireSession(c);
    const body = await readJson(c, profileBody);
    const profile = await s.profiles.updateProfile(session.tenant, session.user, body.displayName);
    await s.auth.rename(session, body.displayName);
    return c.json({ profile });
  });

  app.put('/api/state/:name', async (c) => {
    const { tenant, user } = requireSession(c);
    const name = stateName.safeParse(c.req.param('name'));
    if (!name.success) {
      return c.json(
        {
          error: {
            code: 'VALIDATION',
            message: 'state name: letters, digits, "_" or "-", 1 to 32 characters',
          },
        },
        400,
      );
    }
    const body = await readJson(c, stateBody);
    await s.profiles.setSharedState(tenant, user, name.data, body);
    return c.json({ name: name.data, state: body });
  });
}
