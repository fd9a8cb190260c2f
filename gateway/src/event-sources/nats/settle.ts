// Settles JetStream messages: ack what succeeded or was filtered; nak what failed with a backoff that grows
// with its delivery count; at the consumer's redelivery limit, or once a failed message is older than
// maximumRecordAgeSeconds (by its JetStream timestamp, as Lambda ages stream records by their arrival),
// terminate it and hand it back as discarded, for the on-failure destination (JetStream would never deliver
// it again). As for Kafka, age ends retries: a record is invoked at least once, however old.
import type { BatchOutcome, SettleResult } from '../source-kind.ts';
import type { NatsSource } from './connection.ts';
import type { NatsRecord } from './event.ts';

const NAK_BASE_MS = 1_000;
const NAK_MAX_MS = 60_000;

export async function settleNats(
  source: NatsSource,
  records: readonly NatsRecord[],
  outcome: BatchOutcome<NatsRecord>,
  now = Date.now(),
): Promise<SettleResult<NatsRecord> | undefined> {
  const failed =
    outcome.kind === 'failure' ? new Set(records) : new Set(outcome.kind === 'partial' ? outcome.failed : []);
  const exhausted: NatsRecord[] = [];
  const expired: NatsRecord[] = [];
  for (const record of records) {
    if (!failed.has(record)) {
      record.msg.ack();
    } else if (source.maxDeliver !== -1 && record.deliveryCount >= source.maxDeliver) {
      // No reason given: servers before 2.10 ignore `+TERM <reason>` and redeliver after the ack wait.
      record.msg.term();
      exhausted.push(record);
    } else if (source.maxRecordAgeMs !== -1 && now - (record.sentAt ?? now) > source.maxRecordAgeMs) {
      record.msg.term();
      expired.push(record);
    } else {
      record.msg.nak(Math.min(NAK_MAX_MS, NAK_BASE_MS * 2 ** (record.deliveryCount - 1)));
    }
  }
  // Acks are fire-and-forget; a flush makes the server have them before the batch counts as settled.
  await source.nc.flush();
  // One on-failure record per batch, as Lambda sends: running out of attempts names the condition first.
  const discarded = [...exhausted, ...expired];
  if (discarded.length === 0) return undefined;
  const condition = exhausted.length > 0 ? 'RetryAttemptsExhausted' : 'RecordAgeExceeded';
  return { discarded: { records: discarded, condition, outcome } };
}
