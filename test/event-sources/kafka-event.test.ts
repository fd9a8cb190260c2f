// The self-managed Kafka event and the stream failure record, field by field (reference §10.5, §14.1).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaBatchInfo } from '../../gateway/src/event-sources/kafka/failure-record.ts';
import { selfManagedKafkaEvent } from '../../gateway/src/event-sources/kafka/kafka-event.ts';
import { loadManifestDirectory } from '../../gateway/src/registry/manifest-loader.ts';
import { REPO_ROOT, testDataRoot } from '../support/serval.ts';

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

describe('kafkaBatchInfo', () => {
  it('names the batch size, servers, group, payload size and the offset range per partition', () => {
    expect(
      kafkaBatchInfo([record(2, 40), record(2, 41), record(2, 42)], ['k:9092'], 'serval-orders', 1234),
    ).toEqual({
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

describe('examples/kafka-consumer', () => {
  it('loads as a function and a Kafka mapping with no problems', () => {
    const loaded = loadManifestDirectory(
      join(REPO_ROOT, 'examples/kafka-consumer'),
      join(testDataRoot(), 'kafka-example'),
    );
    expect(loaded.problems).toEqual([]);
    expect(loaded.functions.map((f) => f.name)).toEqual(['order-consumer']);
    expect(loaded.eventSourceMappings.map((m) => [m.name, m.spec.source.kafka?.topic])).toEqual([
      ['orders', 'orders'],
    ]);
  });
});
