// `serval schedule next '<expression>'`: prints an EventBridge schedule's next fire times, one ISO-8601 UTC time
// per line, so an expression can be checked before it is deployed.
import { nextFireTimes, parseScheduleExpression } from '../apis/schedule-expression.ts';
import { isTimeZone } from '../apis/time-zone.ts';

/** Bad input to the command (an invalid expression, zone, count or start); the CLI exits 2 with its message. */
export class ScheduleInputError extends Error {}

export interface ScheduleNextOptions {
  count?: string | undefined;
  from?: string | undefined;
  timezone?: string | undefined;
  now: () => number;
  out: (line: string) => void;
}

export const MAX_COUNT = 1000;

export function scheduleNext(expression: string, o: ScheduleNextOptions): void {
  const parsed = parseScheduleExpression(expression);
  if (!parsed.ok)
    throw new ScheduleInputError(`invalid schedule expression "${expression}": ${parsed.reason}`);
  const count = o.count === undefined ? 5 : Number(o.count);
  if (!Number.isInteger(count) || count < 1 || count > MAX_COUNT)
    throw new ScheduleInputError(`--count must be a whole number from 1 to ${MAX_COUNT}, got "${o.count}"`);
  // ISO-8601 with a zone or Z; a bare date-time would silently mean the machine's local zone.
  const after = o.from === undefined ? o.now() : Date.parse(o.from);
  if (o.from !== undefined && (Number.isNaN(after) || !/(Z|[+-]\d\d:?\d\d)$|^\d{4}-\d\d-\d\d$/.test(o.from)))
    throw new ScheduleInputError(
      `--from must be an ISO-8601 time with a zone (2026-01-01T00:00:00Z), got "${o.from}"`,
    );
  if (o.timezone !== undefined && !isTimeZone(o.timezone))
    throw new ScheduleInputError(
      `--timezone must be an IANA time zone (e.g. Europe/Berlin), got "${o.timezone}"`,
    );
  for (const t of nextFireTimes(parsed.schedule, { after, count, timeZone: o.timezone })) {
    o.out(new Date(t).toISOString().replace('.000Z', 'Z'));
  }
}
