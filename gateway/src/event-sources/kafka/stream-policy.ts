// Lambda's stream error handling for one batch of one partition (reference §10.1, §10.2), as a pure decision:
// which records are done (their offsets may be committed), which are invoked again (holding the partition
// back), and which are discarded to the on-failure destination. Shared shape with Kinesis: checkpoint at the
// lowest failed record, bisect on error, retry until maximumRetryAttempts or maximumRecordAgeSeconds ends it.
import type { EventSourceMappingSpec } from '../../../../apis/event-source-mapping.ts';
import type { BatchOutcome, DiscardCondition, SourceRecord } from '../source-kind.ts';

/** What the policy needs of a record; `retries` is the kind's per-record counter, reset when bisected. */
export interface StreamRecord extends SourceRecord {
  offset: bigint;
  /** Epoch ms the record was written (its age counts from here). */
  timestamp: number;
  retries: number;
}

export interface StreamDecision<R extends StreamRecord> {
  done: R[];
  /** Invoked next, before anything after them in the partition. */
  retry: R[];
  /** Invoked after `retry` succeeds or is discarded: the other half of a bisected batch. */
  later: R[];
  discarded?: { records: R[]; condition: DiscardCondition };
}

/** With an on-failure destination, Lambda caps "retry forever" at 10 for Kafka. */
const RETRIES_WITH_DESTINATION = 10;

export function retryLimit(spec: EventSourceMappingSpec): number {
  const configured = spec.maximumRetryAttempts ?? -1;
  if (configured === -1 && spec.destinationConfig?.onFailure !== undefined) return RETRIES_WITH_DESTINATION;
  return configured;
}

export function decide<R extends StreamRecord>(
  spec: EventSourceMappingSpec,
  records: readonly R[],
  outcome: BatchOutcome<R>,
  now: number,
): StreamDecision<R> {
  if (outcome.kind === 'success' || outcome.kind === 'filtered')
    return { done: [...records], retry: [], later: [] };
  let failing: R[];
  const done: R[] = [];
  if (outcome.kind === 'partial') {
    // Checkpoint rule: everything before the lowest failed record succeeded; it and all after it are retried.
    const lowest = outcome.failed.reduce(
      // biome-ignore lint/complexity/useMathMinMax: offsets are bigints, which Math.min does not take
      (min, r) => (r.offset < min ? r.offset : min),
      outcome.failed[0]!.offset,
    );
    for (const r of records) if (r.offset < lowest) done.push(r);
    failing = records.filter((r) => r.offset >= lowest);
  } else {
    failing = [...records];
  }
  // Records past their age are discarded first: the rest of the batch is still worth a retry.
  const maxAge = spec.maximumRecordAgeSeconds ?? -1;
  if (maxAge !== -1) {
    const expired = failing.filter((r) => now - r.timestamp > maxAge * 1000);
    if (expired.length > 0) {
      return {
        done,
        retry: failing.filter((r) => !expired.includes(r)),
        later: [],
        discarded: { records: expired, condition: 'RecordAgeExceeded' },
      };
    }
  }
  // Bisecting is not a retry: each half starts with the whole retry budget, so a poison record ends up alone.
  if (spec.bisectBatchOnFunctionError && failing.length > 1) {
    for (const r of failing) r.retries = 0;
    const half = Math.ceil(failing.length / 2);
    return { done, retry: failing.slice(0, half), later: failing.slice(half) };
  }
  const limit = retryLimit(spec);
  const retries = Math.max(...failing.map((r) => r.retries));
  if (limit !== -1 && retries >= limit) {
    return {
      done,
      retry: [],
      later: [],
      discarded: { records: failing, condition: 'RetryAttemptsExhausted' },
    };
  }
  for (const r of failing) r.retries++;
  return { done, retry: failing, later: [] };
}
