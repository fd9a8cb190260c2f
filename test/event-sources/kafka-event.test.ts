// The self-managed Kafka event and the stream failure record, field by field (reference §10.5, §14.1).
import { describe, expect, it } from 'vitest';
import { streamFailureRecord } from '../../gateway/src/event-sources/kafka/failure-record.ts';
import { selfManagedKafkaEvent } from '../../gateway/src/event-sources/kafka/kafka-event.ts';

const record = (
  partition: number,
  offset: number,
  extra: Partial<Parameters<typeof selfManagedKafkaEvent>[1][number]> = {},
) => ({
  topic: 'orders',
  partition,
  offset: BigInt(offset),
  timestamp: 1545084650987 + offset,
  timestampType: 'CREATE_TIME' as const,
  key: Buffer.from(`k${offset}`),
  value: Buffer.from('Hello, this is a test.'),
  headers: [['headerKey', Buffer.from('headerValue')] as const],
  ...extra,
});

describe('selfManagedKafkaEvent', () => {
  it('keys records by topic-partition with base64 key and value and signed header bytes', () => {
    const event = selfManagedKafkaEvent(
      ['b-1:9092', 'b-2:9092'],
      [record(0, 15), record(1, 3, { headers: [['bin', Buffer.from([0, 127, 128, 255])]] }), record(0, 16)],
    );
    expect(event).toEqual({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'b-1:9092,b-2:9092',
      records: {
        'orders-0': [
          {
            topic: 'orders',
            partition: 0,
            offset: 15,
            timestamp: 1545084651002,
            timestampType: 'CREATE_TIME',
            key: Buffer.from('k15').toString('base64'),
            value: 'SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==',
            headers: [{ headerKey: [104, 101, 97, 100, 101, 114, 86, 97, 108, 117, 101] }],
          },
          expect.objectContaining({ offset: 16 }),
        ],
        'orders-1': [expect.objectContaining({ offset: 3, headers: [{ bin: [0, 127, -128, -1] }] })],
      },
    });
  });

  it('leaves key and value out when the record has none (a tombstone)', () => {
    const event = selfManagedKafkaEvent(
      ['k:9092'],
      [record(0, 1, { key: undefined, value: undefined, headers: [] })],
    );
    const only = event.records['orders-0']![0]!;
    expect('key' in only).toBe(false);
    expect('value' in only).toBe(false);
    expect(only.headers).toEqual([]);
  });
});

describe('streamFailureRecord', () => {
  it('names the condition, invoke count, response and the offset range per partition', () => {
    const now = Date.parse('2026-07-13T13:48:01Z');
    const r = streamFailureRecord(
      {
        requestId: 'c0ffee00-0000-4000-8000-000000000000',
        functionArn: 'arn:serval:lambda:local:default:function:consumer:$LATEST',
        condition: 'RetryAttemptsExhausted',
        invokeCount: 3,
        statusCode: 200,
        executedVersion: '$LATEST',
        functionError: 'Unhandled',
        bootstrapServers: ['k:9092'],
        consumerGroupId: 'serval-orders',
        payloadSize: 1234,
        records: [record(2, 40), record(2, 41), record(2, 42)],
      },
      now,
    );
    expect(r).toEqual({
      requestContext: {
        requestId: 'c0ffee00-0000-4000-8000-000000000000',
        functionArn: 'arn:serval:lambda:local:default:function:consumer:$LATEST',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-07-13T13:48:01.000Z',
      KafkaBatchInfo: {
        batchSize: 3,
        bootstrapServers: 'k:9092',
        consumerGroupId: 'serval-orders',
        payloadSize: 1234,
        recordsInfo: {
          'orders-2': {
            firstRecordOffset: '40',
            lastRecordOffset: '42',
            firstRecordTimestamp: new Date(1545084650987 + 40).toISOString(),
            lastRecordTimestamp: new Date(1545084650987 + 42).toISOString(),
          },
        },
      },
    });
  });
});
