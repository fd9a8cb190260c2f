// Settles JetStream messages: ack what succeeded or was filtered; nak what failed with a backoff that grows
// with its delivery count; at the consumer's redelivery limit, terminate it and hand it back as discarded,
// for the on-failure destination (JetStream would never deliver it again).
import type { BatchOutcome, SettleResult } from '../source-kind.ts';
import type { NatsSource } from './connection.ts';
import type { NatsRecord } from './event.ts';

const NAK_BASE_MS = 1_000;
const NAK_MAX_MS = 60_000;

export async function settleNats(
  source: NatsSource,
  records: readonly NatsRecord[],
  outcome: BatchOutcome<NatsRecord>,
): Promise<SettleResult<NatsRecord> | undefined> {
  const failed =
    outcome.kind === 'failure' ? new Set(records) : new Set(outcome.kind === 'partial' ? outcome.failed : []);
  const exhausted: NatsRecord[] = [];
  for (const record of records) {
    if (!failed.has(record)) {
      record.msg.ack();
    } else if (source.maxDeliver !== -1 && record.deliveryCount >= source.maxDeliver) {
      record.msg.term('retry attempts exhausted');
      exhausted.push(record);
    } else {
      record.msg.nak(Math.min(NAK_MAX_MS, NAK_BASE_MS * 2 ** (record.deliveryCount - 1)));
    }
  }
  // Acks are fire-and-forget; a flush makes the server have them before the batch counts as settled.
  await source.nc.flush();
  if (exhausted.length === 0) return undefined;
  return { discarded: { records: exhausted, condition: 'RetryAttemptsExhausted', outcome } };
}
