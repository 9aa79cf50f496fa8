import { ValidationError } from '@redbrick/core';

/** A calendar period of usage buckets (UTC). */
export type Period = 'hour' | 'day' | 'month';

export const PERIODS: readonly Period[] = ['hour', 'day', 'month'];

const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Start (Unix ms, inclusive) of the UTC period that contains `t`. */
export function periodStart(period: Period, t: number): number {
  if (period === 'hour') return t - (((t % HOUR) + HOUR) % HOUR);
  if (period === 'day') return t - (((t % DAY) + DAY) % DAY);
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** Start of the period after the one that contains `t` (its exclusive end). */
export function periodEnd(period: Period, t: number): number {
  if (period === 'hour') return periodStart(period, t) + HOUR;
  if (period === 'day') return periodStart(period, t) + DAY;
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** The bucket label of a period: `2025-01-02T13` (hour), `2025-01-02` (day), `2025-01` (month). */
export function periodLabel(period: Period, t: number): string {
  const iso = new Date(periodStart(period, t)).toISOString();
  if (period === 'hour') return iso.slice(0, 13);
  if (period === 'day') return iso.slice(0, 10);
  return iso.slice(0, 7);
}

/** Nominal length in seconds (a month has none: `undefined`). */
export function periodSeconds(period: Period): number | undefined {
  if (period === 'hour') return HOUR / 1000;
  if (period === 'day') return DAY / 1000;
  return undefined;
}

export function assertPeriod(value: unknown, field: string): asserts value is Period {
  if (!PERIODS.includes(value as Period)) {
    throw new ValidationError(
      `[redbrick/ratelimit] ${field} must be one of ${PERIODS.join(', ')}, got ${JSON.stringify(value)}`,
      { field },
    );
  }
}
