import { ApiError } from './errors.js';

/** A fictional customer of the AI-assistant backend. */
export interface Tenant {
  id: string;
  name: string;
  /** Monthly token budget of each of the tenant's workspaces. */
  monthlyTokenBudget: number;
}

/** The tenants the demo knows. Anything else is `404 UNKNOWN_TENANT`. */
export const TENANTS: readonly Tenant[] = [
  { id: 'acme', name: 'Acme AI', monthlyTokenBudget: 20_000 },
  { id: 'globex', name: 'Globex Labs', monthlyTokenBudget: 5_000 },
];

/** The tenant with this id, or `404 UNKNOWN_TENANT`. */
export function findTenant(id: string): Tenant {
  const tenant = TENANTS.find((t) => t.id === id);
  if (!tenant) {
    throw new ApiError(
      404,
      'UNKNOWN_TENANT',
      `unknown tenant "${id.slice(0, 64)}": use one of ${TENANTS.map((t) => t.id).join(', ')}`,
    );
  }
  return tenant;
}
