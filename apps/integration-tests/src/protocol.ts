import type { BackendConfig } from '@redbrick/core';
import type { AppStats, RoundOrder, RoundReport } from './app.js';

/** The JSON argument a worker process is forked with. */
export interface WorkerJob {
  /** Instance id (`w1` …). */
  id: string;
  /** Backend config; every call of the app goes through `scoped(prefix)` of it. */
  config: BackendConfig;
  /** The run's key prefix. */
  prefix: string;
  journalFile: string;
  rateLimit: number;
  lockTtlMs: number;
  claimIdleMs: number;
}

/** Driver → worker. */
export type DriverMessage =
  | { type: 'round'; order: RoundOrder }
  | { type: 'stats' }
  | { type: 'stop' };

/** Worker → driver. */
export type WorkerMessage =
  | { type: 'ready'; pid: number }
  | { type: 'round'; report: RoundReport }
  | { type: 'stats'; stats: AppStats }
  | { type: 'stopped'; stats: AppStats };
