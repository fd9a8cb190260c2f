// One fetched Kafka record as the mapping runtime handles it: its event form, filter view, size, and the key
// slot that orders it (a partition, or a partition's key hash with parallelizationFactor above 1).
import type { Message } from '@platformatic/kafka';
import type { SourceRecord } from '../source-kind.ts';
import { type KafkaRecordView, kafkaEventRecord } from './kafka-event.ts';
import type { StreamRecord } from './stream-policy.ts';

export interface KafkaRecord extends SourceRecord, StreamRecord, KafkaRecordView {
  /** `<partition>` or `<partition>/<slot>`: records of one group are handed out one batch at a time, in order. */
  readonly group: string;
  readonly leaderEpoch: number;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** FNV-1a: a stable, cheap spread of keys over the partition's slots. */
function keySlot(key: Buffer | undefined, slots: number): number {
  if (slots <= 1 || key === undefined) return 0;
  let h = 0x811c9dc5;
  for (const byte of key) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h % slots;
}

/** What filter patterns see (reference §10.3): metadata, and `value` decoded as JSON or a UTF-8 string. */
function filterView(view: KafkaRecordView): Record<string, unknown> {
  const out: Record<string, unknown> = {
    topic: view.topic,
    partition: view.partition,
    offset: Number(view.offset),
    timestamp: view.timestamp,
    timestampType: view.timestampType,
  };
  if (view.value !== undefined) {
    try {
      const text = utf8.decode(view.value);
      try {
        out.value = JSON.parse(text);
      } catch {
        out.value = text;
      }
    } catch {
      // not UTF-8: filtered on metadata alone
    }
  }
  return out;
}

export function toKafkaRecord(
  m: Message,
  parallelizationFactor: number,
  timestampType: KafkaRecordView['timestampType'],
): KafkaRecord {
  const key = m.key !== undefined && m.key !== null && m.key.length > 0 ? m.key : undefined;
  const value = m.value !== undefined && m.value !== null ? m.value : undefined;
  const view: KafkaRecordView = {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    timestamp: Number(m.timestamp),
    timestampType,
    key,
    value,
    headers: m.headerEntries.map(([k, v]) => [k.toString('utf8'), v] as const),
  };
  const slot = keySlot(key, parallelizationFactor);
  return {
    ...view,
    id: String(m.offset),
    group: parallelizationFactor > 1 ? `${m.partition}/${slot}` : String(m.partition),
    leaderEpoch: m.leaderEpoch,
    filterView: filterView(view),
    eventBytes: Buffer.byteLength(JSON.stringify(kafkaEventRecord(view))),
    sentAt: Number(m.timestamp),
    deliveryCount: 1,
    retries: 0,
  };
}
