// Wall-clock arithmetic in an IANA time zone with Intl alone: an instant's local fields, and the instants a
// local wall-clock minute names (none in a spring-forward gap, two in a fall-back overlap).

/** A local calendar time, minute precision, as `Date.UTC` fields (month 0–11). */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether Intl knows the zone (an IANA name such as `Europe/Berlin`, or `UTC`). */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The local wall-clock fields of an instant (seconds dropped). */
export function wallTimeAt(instant: number, timeZone: string): WallTime {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month! - 1,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
  };
}

const wallMs = (w: WallTime) => Date.UTC(w.year, w.month, w.day, w.hour, w.minute);

/** The zone's offset from UTC at an instant, in ms (Berlin in winter: +3,600,000). */
function offsetAt(instant: number, timeZone: string): number {
  const minute = instant - (((instant % 60_000) + 60_000) % 60_000);
  return wallMs(wallTimeAt(minute, timeZone)) - minute;
}

const DAY = 86_400_000;

/**
 * The earliest instant whose local time is `wall`, or undefined when the wall time does not exist (skipped by
 * a forward DST shift). A repeated wall time (backward shift) yields its first occurrence only.
 */
export function instantOf(wall: WallTime, timeZone: string): number | undefined {
  const local = wallMs(wall);
  // Offsets in force within a day either side; every zone changes offset at most once in that span.
  const offsets = new Set([offsetAt(local - DAY, timeZone), offsetAt(local + DAY, timeZone)]);
  let earliest: number | undefined;
  for (const offset of offsets) {
    const instant = local - offset;
    if (wallMs(wallTimeAt(instant, timeZone)) === local && (earliest === undefined || instant < earliest)) {
      earliest = instant;
    }
  }
  return earliest;
}
