// The record a Kafka mapping sends to its on-failure destination when it discards a batch (reference §14.1:
// the stream envelope, with Kafka's batch info naming the topic, partition and offset range).
import type { KafkaRecordView } from './kafka-event.ts';

export type StreamDiscardCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded' | 'PayloadTooLarge';

export interface StreamFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: StreamDiscardCondition;
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError?: string };
  version: '1.0';
  timestamp: string;
  KafkaBatchInfo: {
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
  };
}

export interface DiscardedBatch {
  requestId: string;
  /** The qualified ARN the batch was sent to. */
  functionArn: string;
  condition: StreamDiscardCondition;
  /** Invocations that reached the function (0 when the batch was never sent, e.g. too large). */
  invokeCount: number;
  /** The last attempt's answer: 200 with `Unhandled` for a function error. */
  statusCode: number;
  executedVersion: string;
  functionError?: string | undefined;
  bootstrapServers: readonly string[];
  consumerGroupId: string;
  /** Bytes of the event the batch made. */
  payloadSize: number;
  records: readonly KafkaRecordView[];
}

export function streamFailureRecord(b: DiscardedBatch, now: number): StreamFailureRecord {
  const recordsInfo: StreamFailureRecord['KafkaBatchInfo']['recordsInfo'] = {};
  for (const r of b.records) {
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
  const responseContext: StreamFailureRecord['responseContext'] = {
    statusCode: b.statusCode,
    executedVersion: b.executedVersion,
  };
  if (b.functionError !== undefined) responseContext.functionError = b.functionError;
  return {
    requestContext: {
      requestId: b.requestId,
      functionArn: b.functionArn,
      condition: b.condition,
      approximateInvokeCount: b.invokeCount,
    },
    responseContext,
    version: '1.0',
    timestamp: new Date(now).toISOString(),
    KafkaBatchInfo: {
      batchSize: b.records.length,
      bootstrapServers: b.bootstrapServers.join(','),
      consumerGroupId: b.consumerGroupId,
      payloadSize: b.payloadSize,
      recordsInfo,
    },
  };
}
