// The Kafka block of Lambda's on-failure record for a discarded batch (reference §14.1): the envelope is the
// runtime's (failure-record.ts); Kafka names the batch size, servers, group, payload size and, per
// `<topic>-<partition>`, the first and last offset and timestamp.
import type { KafkaRecordView } from './kafka-event.ts';

export interface KafkaBatchInfo {
  batchSize: number;
  bootstrapServers: string;
  consumerGroupId: string;
  payloadSize: number;
  recordsInfo: Record<
    string,
    {
      firstRecordOffset: string;
      lastRecordOffset: string;
      firstRecordTimestamp: string;
      lastRecordTimestamp: string;
    }
  >;
}

export function kafkaBatchInfo(
  records: readonly KafkaRecordView[],
  bootstrapServers: readonly string[],
  consumerGroupId: string,
  payloadSize: number,
): { KafkaBatchInfo: KafkaBatchInfo } {
  const recordsInfo: KafkaBatchInfo['recordsInfo'] = {};
  for (const r of records) {
    const key = `${r.topic}-${r.partition}`;
    const at = new Date(r.timestamp).toISOString();
    const info = recordsInfo[key];
    if (info === undefined) {
      recordsInfo[key] = {
        firstRecordOffset: String(r.offset),
        lastRecordOffset: String(r.offset),
        firstRecordTimestamp: at,
        lastRecordTimestamp: at,
      };
    } else {
      info.lastRecordOffset = String(r.offset);
      info.lastRecordTimestamp = at;
    }
  }
  return {
    KafkaBatchInfo: {
      batchSize: records.length,
      bootstrapServers: bootstrapServers.join(','),
      consumerGroupId,
      payloadSize,
      recordsInfo,
    },
  };
}
