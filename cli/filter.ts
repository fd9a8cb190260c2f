// `serval filter test --pattern P --event E`: does an event source filter pattern match an event? Exit 0 on a
// match, 1 on none, 2 when the pattern (or the event) is invalid, with the field named — the way to debug a
// mapping's filterCriteria before deploying it.
import {
  binaryPayloadView,
  FilterPattern,
  FilterPatternError,
  textPayloadView,
} from '../apis/event-filter.ts';

export interface FilterTestInput {
  pattern: string;
  /** One record as the filter sees it: an SQS record (its JSON `body` is parsed), or any object. */
  event: string;
  out: (line: string) => void;
}

/** Where each kind keeps its payload, and whether it is base64 (MQ, Kafka, NATS) or text (SQS). */
const DATA_KEYS: Array<{ key: string; base64: boolean; when: (r: Record<string, unknown>) => boolean }> = [
  { key: 'body', base64: false, when: (r) => r.eventSource === 'aws:sqs' || 'body' in r },
  { key: 'data', base64: true, when: (r) => 'data' in r },
  { key: 'value', base64: true, when: (r) => 'value' in r },
];

export function filterTest(input: FilterTestInput): number {
  let pattern: FilterPattern;
  try {
    pattern = FilterPattern.parse(input.pattern);
  } catch (err) {
    if (!(err instanceof FilterPatternError)) throw err;
    input.out(`invalid pattern: ${err.field ? `${err.field}: ` : ''}${err.reason}`);
    return 2;
  }
  let record: unknown;
  try {
    record = JSON.parse(input.event);
  } catch (err) {
    input.out(`invalid event: not JSON (${(err as Error).message})`);
    return 2;
  }
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    input.out('invalid event: must be a JSON object (one record)');
    return 2;
  }
  // A whole SQS event is accepted too: its first record is tested.
  const records = (record as { Records?: unknown }).Records;
  const one = (Array.isArray(records) ? records[0] : record) as Record<string, unknown>;
  const place = DATA_KEYS.find((d) => d.when(one)) ?? DATA_KEYS[0]!;
  const raw = one[place.key];
  const payload =
    typeof raw !== 'string'
      ? raw
      : place.base64
        ? binaryPayloadView(Buffer.from(raw, 'base64'))
        : textPayloadView(raw);
  const view = { ...one, [place.key]: payload };
  const matched = pattern.matches({ view, dataKey: place.key });
  input.out(matched ? 'match' : 'no match');
  return matched ? 0 : 1;
}
