import { ValidationError } from '@redbrick/core';
import { PKG } from './errors.js';

/*
 * A five-field cron expression (minute hour day-of-month month day-of-week,
 * local time, `*`, `a-b`, `*\/n`, `a-b/n` and lists), for the in-process
 * queue's schedules. The same expressions are validated here before BullMQ
 * gets them, so a schedule that works in memory works on Redis.
 */

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

/** A parsed expression: the allowed values of each field. */
export interface Cron {
  readonly fields: ReadonlyArray<ReadonlySet<number>>;
  readonly anyDayOfMonth: boolean;
  readonly anyDayOfWeek: boolean;
}

function bad(expression: string, why: string): never {
  throw new ValidationError(
    `${PKG} cron "${expression}" is not a five-field cron expression (minute hour day-of-month month day-of-week): ${why}`,
    { field: 'repeat.cron' },
  );
}

export function parseCron(expression: string): Cron {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) bad(expression, `it has ${parts.length} fields`);
  const fields = parts.map((part, i) => {
    const { name, min, max } = FIELDS[i] as (typeof FIELDS)[number];
    const values = new Set<number>();
    for (const item of part.split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
      if (!m) bad(expression, `${name} "${item}"`);
      const step = m[4] === undefined ? 1 : Number(m[4]);
      const from = m[1] === '*' ? min : Number(m[2]);
      const to =
        m[1] === '*' ? max : m[3] === undefined ? (m[4] === undefined ? from : max) : Number(m[3]);
      if (step < 1 || from < min || to > max || from > to)
        bad(expression, `${name} "${item}" is out of ${min}–${max}`);
      for (let v = from; v <= to; v += step) values.add(i === 4 && v === 7 ? 0 : v);
    }
    return values;
  });
  return { fields, anyDayOfMonth: parts[2] === '*', anyDayOfWeek: parts[4] === '*' };
}

/** The first minute strictly after `after` (ms since the epoch) that matches, in local time. */
export function nextCronTime(cron: Cron, after: number): number {
  const d = new Date(after);
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() + 1);
  const [minutes, hours, dom, months, dow] = cron.fields as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  // At most ~4 years of minutes; a valid expression (e.g. Feb 29) matches well within that.
  for (let i = 0; i < 4 * 366 * 24 * 60; i++) {
    const dayOk =
      cron.anyDayOfMonth || cron.anyDayOfWeek
        ? dom.has(d.getDate()) && dow.has(d.getDay())
        : dom.has(d.getDate()) || dow.has(d.getDay());
    if (!months.has(d.getMonth() + 1) || !dayOk) {
      d.setHours(0, 0, 0, 0);
      d.setDate(d.getDate() + 1);
      continue;
    }
    if (!hours.has(d.getHours())) {
      d.setMinutes(0, 0, 0);
      d.setHours(d.getHours() + 1);
      continue;
    }
    if (minutes.has(d.getMinutes())) return d.getTime();
    d.setMinutes(d.getMinutes() + 1);
  }
  throw new ValidationError(`${PKG} cron expression never matches`, { field: 'repeat.cron' });
}
