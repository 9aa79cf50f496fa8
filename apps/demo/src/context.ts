import type { Context } from 'hono';
import type { Auth, DemoSession } from './auth.js';
import type { Checkout } from './checkout.js';
import type { Documents } from './documents.js';
import { ApiError } from './errors.js';
import type { EventBus } from './events.js';
import type { Profiles } from './profiles.js';
import type { RequestLimits } from './rate-limits.js';
import type { Reminders } from './reminders.js';
import type { Upstream } from './upstream.js';
import type { UsageBoard } from './usage.js';

/** Hono environment of the demo: the request's session, when logged in. */
export type DemoEnv = { Variables: { session: DemoSession | undefined } };

/** Every service the routes use. */
export interface Services {
  /** Which backend runs, e.g. `memory` or `redis 127.0.0.1:6379`. */
  backendLabel: string;
  auth: Auth;
  profiles: Profiles;
  limits: RequestLimits;
  events: EventBus;
  checkout: Checkout;
  usage: UsageBoard;
  reminders: Reminders;
  upstream: Upstream;
  documents: Documents;
  /** Aborted when the demo shuts down: ends the event streams. */
  shutdown: AbortSignal;
}

/** The logged-in user, or `401 UNAUTHENTICATED`. */
export function requireSession(c: Context<DemoEnv>): DemoSession {
  const session = c.get('session');
  if (!session) throw new ApiError(401, 'UNAUTHENTICATED', 'log in first: POST /api/login');
  return session;
}
