// EventBridge schedule grammar: a table of cron and rate expressions with their next fire times (worked out by
// hand from the calendar, not from the code), DST in real zones, and the reasons invalid ones are refused.
import { describe, expect, it } from 'vitest';
import { EventSourceMappingSchema } from '../../apis/event-source-mapping.ts';
import { nextFireTimes, parseScheduleExpression } from '../../apis/schedule-expression.ts';

const NEW_YEAR = '2026-01-01T00:00:00Z'; // a Thursday

// [expression, after, time zone, expected fire times]
const TABLE: [string, string, string | undefined, string[]][] = [
  ['cron(0 10 * * ? *)', NEW_YEAR, undefined, ['2026-01-01T10:00', '2026-01-02T10:00']],
  ['cron(15 12 * * ? *)', NEW_YEAR, undefined, ['2026-01-01T12:15', '2026-01-02T12:15']],
  [
    'cron(0 18 ? * MON-FRI *)',
    NEW_YEAR,
    undefined,
    ['2026-01-01T18:00', '2026-01-02T18:00', '2026-01-05T18:00'],
  ],
  ['cron(0 8 1 * ? *)', NEW_YEAR, undefined, ['2026-01-01T08:00', '2026-02-01T08:00']],
  ['cron(0/15 * * * ? *)', NEW_YEAR, undefined, ['2026-01-01T00:15', '2026-01-01T00:30', '2026-01-01T00:45']],
  ['cron(0/10 * ? * MON-FRI *)', NEW_YEAR, undefined, ['2026-01-01T00:10', '2026-01-01T00:20']],
  [
    'cron(5,35 14 * * ? *)',
    NEW_YEAR,
    undefined,
    ['2026-01-01T14:05', '2026-01-01T14:35', '2026-01-02T14:05'],
  ],
  ['cron(15 10 ? * 6L 2026-2027)', NEW_YEAR, undefined, ['2026-01-30T10:15', '2026-02-27T10:15']],
  ['cron(0 0 L * ? *)', NEW_YEAR, undefined, ['2026-01-31T00:00', '2026-02-28T00:00', '2026-03-31T00:00']],
  ['cron(0 9 ? * 2#1 *)', NEW_YEAR, undefined, ['2026-01-05T09:00', '2026-02-02T09:00', '2026-03-02T09:00']],
  ['cron(0 9 15W * ? *)', NEW_YEAR, undefined, ['2026-01-15T09:00', '2026-02-16T09:00', '2026-03-16T09:00']],
  ['cron(0 9 1W * ? *)', '2026-07-15T00:00:00Z', undefined, ['2026-08-03T09:00', '2026-09-01T09:00']],
  ['cron(0 12 LW * ? *)', NEW_YEAR, undefined, ['2026-01-30T12:00', '2026-02-27T12:00', '2026-03-31T12:00']],
  ['cron(0 0 1 JAN ? *)', NEW_YEAR, undefined, ['2027-01-01T00:00', '2028-01-01T00:00']],
  ['cron(30 23 ? * SUN *)', NEW_YEAR, undefined, ['2026-01-04T23:30', '2026-01-11T23:30']],
  [
    'cron(0 22-2 * * ? *)',
    NEW_YEAR,
    undefined,
    ['2026-01-01T01:00', '2026-01-01T02:00', '2026-01-01T22:00', '2026-01-01T23:00', '2026-01-02T00:00'],
  ],
  ['cron(0 0 29 FEB ? *)', NEW_YEAR, undefined, ['2028-02-29T00:00', '2032-02-29T00:00']],
  [
    'cron(0 0 ? * FRI-MON *)',
    NEW_YEAR,
    undefined,
    ['2026-01-02T00:00', '2026-01-03T00:00', '2026-01-04T00:00', '2026-01-05T00:00', '2026-01-09T00:00'],
  ],
  ['cron(0 6 L-2 * ? *)', NEW_YEAR, undefined, ['2026-01-29T06:00', '2026-02-26T06:00', '2026-03-29T06:00']],
  ['cron(0 12 * * ? 2025)', NEW_YEAR, undefined, []],
  ['cron(0 0 ? * L *)', NEW_YEAR, undefined, ['2026-01-03T00:00', '2026-01-10T00:00']],
  [
    'cron(0 10 10-20/5 * ? *)',
    NEW_YEAR,
    undefined,
    ['2026-01-10T10:00', '2026-01-15T10:00', '2026-01-20T10:00', '2026-02-10T10:00'],
  ],
  [
    'cron(0 0 ? 3/4 1#2 *)',
    NEW_YEAR,
    undefined,
    ['2026-03-08T00:00', '2026-07-12T00:00', '2026-11-08T00:00'],
  ],
  ['cron(0 0 31 * ? *)', NEW_YEAR, undefined, ['2026-01-31T00:00', '2026-03-31T00:00', '2026-05-31T00:00']],
  ['cron(* * * * ? *)', '2026-01-01T00:00:30Z', undefined, ['2026-01-01T00:01', '2026-01-01T00:02']],
  ['cron(0 12 ? jan,jul mon#1 *)', NEW_YEAR, undefined, ['2026-01-05T12:00', '2026-07-06T12:00']],
  // Time zones: the fields are local time; the output is UTC.
  ['cron(0 9 * * ? *)', NEW_YEAR, 'America/New_York', ['2026-01-01T14:00', '2026-01-02T14:00']],
  ['cron(0 0 * * ? *)', NEW_YEAR, 'Asia/Kolkata', ['2026-01-01T18:30', '2026-01-02T18:30']],
  // Spring forward (8 March 2026): 02:30 does not exist that day, so it does not fire.
  [
    'cron(30 2 * * ? *)',
    '2026-03-07T00:00:00Z',
    'America/New_York',
    ['2026-03-07T07:30', '2026-03-09T06:30'],
  ],
  // Fall back (1 November 2026): 01:30 happens twice and fires once, at the first.
  [
    'cron(30 1 * * ? *)',
    '2026-10-31T00:00:00Z',
    'America/New_York',
    ['2026-10-31T05:30', '2026-11-01T05:30', '2026-11-02T06:30'],
  ],
  ['cron(0 12 ? * MON *)', '2026-03-23T00:00:00Z', 'Europe/Berlin', ['2026-03-23T11:00', '2026-03-30T10:00']],
  // Rates fall on whole periods since the epoch and ignore the zone.
  ['rate(5 minutes)', '2026-01-01T00:02:00Z', undefined, ['2026-01-01T00:05', '2026-01-01T00:10']],
  ['rate(1 minute)', '2026-01-01T00:00:00Z', undefined, ['2026-01-01T00:01', '2026-01-01T00:02']],
  ['rate(1 day)', '2026-01-01T12:00:00Z', 'Asia/Tokyo', ['2026-01-02T00:00', '2026-01-03T00:00']],
  ['rate(2 hours)', '2026-01-01T01:00:00Z', undefined, ['2026-01-01T02:00', '2026-01-01T04:00']],
];

describe('next fire times', () => {
  it.each(TABLE)('%s after %s in %s', (expression, after, timeZone, expected) => {
    const parsed = parseScheduleExpression(expression);
    if (!parsed.ok) throw new Error(parsed.reason);
    const times = nextFireTimes(parsed.schedule, {
      after: Date.parse(after),
      count: expected.length || 3,
      timeZone,
    });
    expect(times.map((t) => new Date(t).toISOString())).toEqual(expected.map((e) => `${e}:00.000Z`));
  });

  it('covers at least 20 cron expressions', () => {
    expect(new Set(TABLE.filter(([e]) => e.startsWith('cron')).map(([e]) => e)).size).toBeGreaterThanOrEqual(
      20,
    );
  });
});

describe('invalid expressions name what is wrong', () => {
  it.each([
    ['cron(0 10 * * * *)', 'exactly one of day-of-month and day-of-week must be ?'],
    ['cron(0 10 ? * ? *)', 'exactly one of day-of-month and day-of-week must be ?'],
    ['cron(60 * * * ? *)', 'cron minutes: "60" is not in 0-59'],
    ['cron(0 24 * * ? *)', 'cron hours: "24" is not in 0-23'],
    ['cron(0 0 32 * ? *)', 'cron day-of-month: "32" is not in 1-31'],
    ['cron(0 0 ? * 8 *)', 'cron day-of-week: "8" is not in 1-7'],
    ['cron(0 0 * FOO ? *)', 'cron month: "FOO" is not a number or a name'],
    ['cron(0 0 * * ? 1969)', 'cron year: "1969" is not in 1970-2199'],
    ['cron(0 0 * * ? 2030-2027)', 'cron year: "2030-2027" is a range that ends before it starts'],
    ['cron(0 0 * * ?)', 'cron needs six fields'],
    ['cron(0 0 ? * 2#6 *)', 'cron day-of-week: "2#6" needs an occurrence from 1 to 5'],
    ['cron(*/0 * * * ? *)', 'cron minutes: "*/0" needs a step of 1 or more'],
    ['cron(0 0 ? * 1W *)', 'cron day-of-week: "1W" uses L, # or ?'],
    ['cron(0 0 5L * ? *)', 'cron day-of-month: "5L" uses L, W or ?'],
    ['rate(1 minutes)', 'rate unit must be singular for 1'],
    ['rate(5 minute)', 'rate unit must be plural for 5'],
    ['rate(0 minutes)', 'rate value must be a whole number from 1'],
    ['rate(5 seconds)', 'rate needs "<value> <unit>"'],
    ['every 5 minutes', 'must be rate(<value> <unit>) or cron(<six fields>)'],
  ])('%s', (expression, reason) => {
    const parsed = parseScheduleExpression(expression);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(reason);
  });
});

describe('the manifest schema', () => {
  const mapping = (schedule: Record<string, unknown>) => ({
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name: 'nightly' },
    spec: { functionName: 'report', source: { schedule } },
  });

  it('refuses an invalid cron with the field and the reason', () => {
    const result = EventSourceMappingSchema.safeParse(mapping({ expression: 'cron(0 0 32 * ? *)' }));
    expect(result.success).toBe(false);
    const issue = result.error!.issues.find((i) => i.message.includes('day-of-month'));
    expect(issue?.path).toEqual(['spec', 'source', 'schedule', 'expression']);
  });

  it('refuses an unknown time zone, naming the field', () => {
    const result = EventSourceMappingSchema.safeParse(
      mapping({ expression: 'cron(0 3 * * ? *)', timezone: 'Mars/Olympus_Mons' }),
    );
    expect(result.success).toBe(false);
    expect(result.error!.issues[0]!.path).toEqual(['spec', 'source', 'schedule', 'timezone']);
  });

  it('accepts a valid cron in a zone', () => {
    const result = EventSourceMappingSchema.safeParse(
      mapping({ expression: 'cron(0 3 ? * MON-FRI *)', timezone: 'Europe/Berlin' }),
    );
    expect(result.success).toBe(true);
  });
});
