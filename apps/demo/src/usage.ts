import { type Backend, key } from '@redbrick/core';
import { UsageMeter } from '@redbrick/ratelimit';
import { findTenant } from './tenants.js';

/** One workspace's usage this month. */
export interface WorkspaceUsage {
  workspace: string;
  tokens: number;
  /** In dollars. */
  cost: number;
  requests: number;
  /** The workspace's monthly token budget. */
  budget: number;
  /** Tokens left this month (never below 0). */
  remaining: number;
}

/** Dollars per token of the fictional model. */
const DOLLARS_PER_TOKEN = 0.000_002;
/** The fictional model name recorded with the usage. */
export const MODEL = 'brick-small';

/**
 * Usage metering with `UsageMeter`: each processed document records its
 * tokens and cost against `<tenant>/<workspace>`; the dashboard shows the
 * month's totals and the remaining token budget (a budget check, which
 * only reads).
 */
export class UsageBoard {
  readonly #backend: Backend;
  readonly #meters = new Map<string, UsageMeter>();

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  #meter(tenant: string): UsageMeter {
    let meter = this.#meters.get(tenant);
    if (!meter) {
      meter = new UsageMeter({
        backend: this.#backend,
        name: `demo-${tenant}`,
        quotas: [
          {
            name: 'tokens',
            metric: 'tokens',
            limit: findTenant(tenant).monthlyTokenBudget,
            period: 'month',
          },
        ],
      });
      this.#meters.set(tenant, meter);
    }
    return meter;
  }

  /** Records a processed document's usage; returns its cost in dollars. */
  async record(tenant: string, workspace: string, tokens: number): Promise<number> {
    const cost = Math.round(tokens * DOLLARS_PER_TOKEN * 1e6) / 1e6;
    await this.#backend.sadd(key('workspaces', tenant), workspace);
    await this.#meter(tenant).record(workspace, { tokens, cost, model: MODEL });
    return cost;
  }

  /** Every workspace of the tenant, by name. */
  async board(tenant: string): Promise<WorkspaceUsage[]> {
    const workspaces = (await this.#backend.smembers(key('workspaces', tenant))).sort();
    const meter = this.#meter(tenant);
    const budget = findTenant(tenant).monthlyTokenBudget;
    return Promise.all(
      workspaces.map(async (workspace) => {
        const totals = await meter.totals(workspace, 'month');
        const decision = await meter.check(workspace);
        const rule = decision.rules.find((r) => r.name === 'tokens');
        return {
          workspace,
          tokens: totals.tokens,
          cost: totals.cost,
          requests: totals.requests,
          budget,
          remaining: Math.max(0, rule ? rule.remaining : budget - totals.tokens),
        };
      }),
    );
  }
}

/** Tokens a fictional model would spend summarizing `text` (prompt + output). */
export function estimateTokens(text: string): number {
  const words = text.split(/\s+/).filter(Boolean).length;
  return 40 + Math.ceil(words * 1.3) + Math.min(200, Math.ceil(words / 4));
}
