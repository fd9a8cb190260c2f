// EventBridge schedule expressions (reference §14.2): `rate(N unit)` and six-field `cron(minutes hours
// day-of-month month day-of-week year)` with `? L W #`, ranges, steps and names, and their next fire times in
// UTC or an IANA time zone. Pure; shared by the manifest schema, the CLI and the scheduler.
import { instantOf, wallTimeAt } from './time-zone.ts';

export type RateUnit = 'minute' | 'hour' | 'day';

export interface RateSchedule {
  kind: 'rate';
  value: number;
  unit: RateUnit;
  /** The period in ms; ticks fall on whole multiples of it since the Unix epoch. */
  periodMs: number;
}

type DayOfMonthTerm =
  | { kind: 'days'; days: ReadonlySet<number> }
  | { kind: 'last'; offset: number } // L, L-3
  | { kind: 'nearestWeekday'; day: number } // 15W
  | { kind: 'lastWeekday' }; // LW

type DayOfWeekTerm =
  | { kind: 'days'; days: ReadonlySet<number> } // 1 = SUN … 7 = SAT
  | { kind: 'last'; day: number } // 6L: the month's last Friday
  | { kind: 'nth'; day: number; n: number }; // 2#1: the month's first Monday

export interface CronSchedule {
  kind: 'cron';
  minutes: readonly number[];
  hours: readonly number[];
  /** Undefined for `?`; exactly one of dayOfMonth and dayOfWeek is set. */
  dayOfMonth: readonly DayOfMonthTerm[] | undefined;
  months: ReadonlySet<number>;
  dayOfWeek: readonly DayOfWeekTerm[] | undefined;
  years: ReadonlySet<number>;
}

export type Schedule = RateSchedule | CronSchedule;

export type ParsedSchedule = { ok: true; schedule: Schedule } | { ok: false; reason: string };

const UNIT_MS: Record<RateUnit, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
export const FIRST_YEAR = 1970;
export const LAST_YEAR = 2199;

class ExpressionError extends Error {}

/** Parses an expression; the reason names the field at fault (`cron day-of-month: "32" is not in 1-31`). */
export function parseScheduleExpression(expression: string): ParsedSchedule {
  try {
    const rate = /^rate\((.*)\)$/.exec(expression);
    if (rate) return { ok: true, schedule: parseRate(rate[1]!) };
    const cron = /^cron\((.*)\)$/.exec(expression);
    if (cron) return { ok: true, schedule: parseCron(cron[1]!) };
    throw new ExpressionError('must be rate(<value> <unit>) or cron(<six fields>)');
  } catch (err) {
    if (err instanceof ExpressionError) return { ok: false, reason: err.message };
    throw err;
  }
}

function parseRate(body: string): RateSchedule {
  const match = /^([0-9]+) (minutes?|hours?|days?)$/.exec(body);
  if (!match) throw new ExpressionError('rate needs "<value> <unit>", unit minute(s), hour(s) or day(s)');
  const value = Number(match[1]);
  const word = match[2]!;
  if (!Number.isSafeInteger(value) || value < 1 || value > 1_000_000)
    throw new ExpressionError(`rate value must be a whole number from 1 to 1000000, got ${match[1]}`);
  const plural = word.endsWith('s');
  // EventBridge: singular for 1 (`rate(1 minute)`), plural above it (`rate(5 minutes)`).
  if (plural !== value > 1)
    throw new ExpressionError(`rate unit must be ${value === 1 ? 'singular' : 'plural'} for ${value}`);
  const unit = (plural ? word.slice(0, -1) : word) as RateUnit;
  return { kind: 'rate', value, unit, periodMs: value * UNIT_MS[unit] };
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Whether a range may wrap past its end (`FRI-MON`, `22-2`). */
  wraps: boolean;
}

const MINUTES: FieldSpec = { name: 'minutes', min: 0, max: 59, wraps: true };
const HOURS: FieldSpec = { name: 'hours', min: 0, max: 23, wraps: true };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31, wraps: true };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTHS, wraps: true };
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS, wraps: true };
const YEAR: FieldSpec = { name: 'year', min: FIRST_YEAR, max: LAST_YEAR, wraps: false };

function parseCron(body: string): CronSchedule {
  const fields = body.split(' ');
  if (fields.length !== 6 || fields.some((f) => f === ''))
    throw new ExpressionError(
      'cron needs six fields separated by single spaces: minutes hours day-of-month month day-of-week year',
    );
  const [min, hour, dom, month, dow, year] = fields as [string, string, string, string, string, string];
  // EventBridge: a value or * in one of the day fields needs ? in the other.
  if ((dom === '?') === (dow === '?'))
    throw new ExpressionError('cron: exactly one of day-of-month and day-of-week must be ?');
  return {
    kind: 'cron',
    minutes: [...values(min, MINUTES)].sort((a, b) => a - b),
    hours: [...values(hour, HOURS)].sort((a, b) => a - b),
    dayOfMonth: dom === '?' ? undefined : dom.split(',').map(dayOfMonthTerm),
    months: values(month, MONTH),
    dayOfWeek: dow === '?' ? undefined : dow.split(',').map(dayOfWeekTerm),
    years: values(year, YEAR),
  };
}

function fieldError(spec: FieldSpec, item: string, why: string): ExpressionError {
  return new ExpressionError(`cron ${spec.name}: "${item}" ${why}`);
}

function number(text: string, spec: FieldSpec, item: string): number {
  const name = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  const value = name >= 0 ? name + spec.min : /^[0-9]+$/.test(text) ? Number(text) : Number.NaN;
  if (Number.isNaN(value))
    throw fieldError(
      spec,
      item,
      spec.names ? `is not a number or a name (${spec.names.join(' ')})` : 'is not a number',
    );
  if (value < spec.min || value > spec.max) throw fieldError(spec, item, `is not in ${spec.min}-${spec.max}`);
  return value;
}

/** The values of a comma-separated list of `*`, `n`, `a-b`, each optionally `/step`. */
function values(field: string, spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || range === undefined || range === '')
      throw fieldError(spec, item, 'is malformed');
    let step = 1;
    if (stepText !== undefined) {
      if (!/^[0-9]+$/.test(stepText) || Number(stepText) < 1)
        throw fieldError(spec, item, 'needs a step of 1 or more');
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') [from, to] = [spec.min, spec.max];
    else if (range.includes('-')) {
      const [a, b, more] = range.split('-');
      if (more !== undefined || !a || !b) throw fieldError(spec, item, 'is malformed');
      [from, to] = [number(a, spec, item), number(b, spec, item)];
      if (from > to && !spec.wraps) throw fieldError(spec, item, 'is a range that ends before it starts');
    } else {
      from = number(range, spec, item);
      // `5/15` runs from 5 to the field's end; a bare `5` is just 5.
      to = stepText === undefined ? from : spec.max;
    }
    const span = to >= from ? to - from : to - from + (spec.max - spec.min + 1);
    for (let i = 0; i <= span; i += step) {
      out.add(((from - spec.min + i) % (spec.max - spec.min + 1)) + spec.min);
    }
  }
  return out;
}

function dayOfMonthTerm(item: string): DayOfMonthTerm {
  if (item === 'L') return { kind: 'last', offset: 0 };
  if (item === 'LW') return { kind: 'lastWeekday' };
  const lastOffset = /^L-([0-9]+)$/.exec(item);
  if (lastOffset) {
    const offset = Number(lastOffset[1]);
    if (offset > 30) throw fieldError(DAY_OF_MONTH, item, 'counts back more than 30 days');
    return { kind: 'last', offset };
  }
  const weekday = /^([0-9]+)W$/.exec(item);
  if (weekday) return { kind: 'nearestWeekday', day: number(weekday[1]!, DAY_OF_MONTH, item) };
  if (/[LW#?]/.test(item))
    throw fieldError(DAY_OF_MONTH, item, 'uses L, W or ? in a way cron does not allow');
  return { kind: 'days', days: values(item, DAY_OF_MONTH) };
}

function dayOfWeekTerm(item: string): DayOfWeekTerm {
  if (item === 'L') return { kind: 'days', days: new Set([7]) }; // L alone: the week's last day, Saturday
  const last = /^([0-9A-Za-z]+)L$/.exec(item);
  if (last) return { kind: 'last', day: number(last[1]!, DAY_OF_WEEK, item) };
  const nth = /^([0-9A-Za-z]+)#([0-9]+)$/.exec(item);
  if (nth) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) throw fieldError(DAY_OF_WEEK, item, 'needs an occurrence from 1 to 5 after #');
    return { kind: 'nth', day: number(nth[1]!, DAY_OF_WEEK, item), n };
  }
  if (/[LW#?]/.test(item)) throw fieldError(DAY_OF_WEEK, item, 'uses L, # or ? in a way cron does not allow');
  return { kind: 'days', days: values(item, DAY_OF_WEEK) };
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
/** 1 = Sunday … 7 = Saturday, as cron counts. */
const weekday = (year: number, month: number, day: number) =>
  new Date(Date.UTC(year, month, day)).getUTCDay() + 1;

function matchesDayOfMonth(t: DayOfMonthTerm, year: number, month: number, day: number): boolean {
  const last = daysInMonth(year, month);
  switch (t.kind) {
    case 'days':
      return t.days.has(day);
    case 'last':
      return day === last - t.offset;
    case 'lastWeekday': {
      const dow = weekday(year, month, last);
      return day === (dow === 1 ? last - 2 : dow === 7 ? last - 1 : last);
    }
    case 'nearestWeekday': {
      if (t.day > last) return false;
      const dow = weekday(year, month, t.day);
      // Saturday moves to Friday and Sunday to Monday, never out of the month.
      let target = t.day;
      if (dow === 7) target = t.day === 1 ? 3 : t.day - 1;
      else if (dow === 1) target = t.day === last ? t.day - 2 : t.day + 1;
      return day === target;
    }
  }
}

function matchesDayOfWeek(t: DayOfWeekTerm, year: number, month: number, day: number): boolean {
  const dow = weekday(year, month, day);
  switch (t.kind) {
    case 'days':
      return t.days.has(dow);
    case 'last':
      return dow === t.day && day + 7 > daysInMonth(year, month);
    case 'nth':
      return dow === t.day && Math.ceil(day / 7) === t.n;
  }
}

function dayMatches(c: CronSchedule, year: number, month: number, day: number): boolean {
  if (c.dayOfMonth) return c.dayOfMonth.some((t) => matchesDayOfMonth(t, year, month, day));
  return c.dayOfWeek!.some((t) => matchesDayOfWeek(t, year, month, day));
}

export interface NextFireOptions {
  /** Fire times strictly after this instant (ms since the epoch). */
  after: number;
  count: number;
  /** IANA zone the cron fields are read in; UTC when absent. Rates ignore it, as EventBridge's do. */
  timeZone?: string | undefined;
}

/**
 * The next `count` fire times (ms since the epoch), fewer if the expression ends (a past year). In a time
 * zone, a wall time skipped by a forward DST shift does not fire and a repeated one fires once, at its first
 * occurrence (EventBridge Scheduler's rule).
 */
export function nextFireTimes(schedule: Schedule, o: NextFireOptions): number[] {
  if (schedule.kind === 'rate') {
    const first = (Math.floor(o.after / schedule.periodMs) + 1) * schedule.periodMs;
    return Array.from({ length: o.count }, (_, i) => first + i * schedule.periodMs);
  }
  const zone = o.timeZone ?? 'UTC';
  const out: number[] = [];
  const start = wallTimeAt(o.after, zone);
  const startMinute = start.hour * 60 + start.minute;
  let { year, month, day } = start;
  let firstDay = true;
  while (out.length < o.count && year <= LAST_YEAR) {
    if (!schedule.years.has(year)) {
      [year, month, day, firstDay] = [year + 1, 0, 1, false];
      continue;
    }
    if (!schedule.months.has(month + 1) || day > daysInMonth(year, month)) {
      [month, day, firstDay] = [month + 1, 1, false];
      if (month === 12) [year, month] = [year + 1, 0];
      continue;
    }
    if (dayMatches(schedule, year, month, day)) {
      for (const hour of schedule.hours) {
        for (const minute of schedule.minutes) {
          if (out.length === o.count) break;
          if (firstDay && hour * 60 + minute < startMinute) continue;
          const instant = instantOf({ year, month, day, hour, minute }, zone);
          if (instant !== undefined && instant > o.after) out.push(instant);
        }
      }
    }
    day += 1;
    firstDay = false;
  }
  return out;
}
