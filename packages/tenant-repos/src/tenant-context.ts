import { AsyncLocalStorage } from 'node:async_hooks';
import { ValidationError } from '@redbrick/core';
import { assertId, PKG } from './validate.js';

/** Who the current call chain works for. */
export interface TenantContext {
  readonly tenant: string;
  /** The acting user, when there is one. */
  readonly user?: string | undefined;
}

interface Store {
  readonly context: TenantContext;
  readonly instances: Map<object, unknown>;
}

const storage = new AsyncLocalStorage<Store>();

/** Runs `fn` with `context` as the current tenant for everything it awaits or starts. */
export function withTenant<R>(context: TenantContext, fn: () => R): R {
  assertId(context?.tenant, 'tenant');
  if (context.user !== undefined) assertId(context.user, 'user');
  const bound: TenantContext = { tenant: context.tenant, user: context.user };
  return storage.run({ context: bound, instances: new Map() }, fn);
}

/** The current tenant context; throws `VALIDATION` outside `withTenant`. */
export function currentTenant(): TenantContext {
  const store = storage.getStore();
  if (!store) {
    throw new ValidationError(
      `[redbrick/${PKG}] no tenant is bound: call this inside withTenant({ tenant }, fn)`,
      { field: 'tenant' },
    );
  }
  return store.context;
}

/**
 * A getter for a repository bound to the current tenant: `make` runs once per
 * `withTenant` scope and its result is reused inside that scope.
 *
 * @example
 * const users = contextual(({ tenant }) => new Users({ backend, tenant, fields }));
 * await withTenant({ tenant: 'acme' }, () => users().get('u1'));
 */
export function contextual<R>(make: (context: TenantContext) => R): () => R {
  const id = {};
  return () => {
    const context = currentTenant();
    const store = storage.getStore() as Store;
    if (!store.instances.has(id)) store.instances.set(id, make(context));
    return store.instances.get(id) as R;
  };
}
