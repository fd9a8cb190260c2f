// Kafka mappings when the world moves: a second gateway joins the consumer group and later leaves (partitions
// move, no record is lost, duplicates are counted), and the broker stops and comes back (the mapping reports
// the outage and recovers by itself). Each "gateway" is one mapping runtime worker with its own consumer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaAvailable, startKafka, type TestKafka } from '../support/kafka.ts';
import { allRecords, eventually, produce, type RunningMapping, startMapping } from './kafka-harness.ts';

let kafka: TestKafka;

const ids = (...mappings: RunningMapping[]) =>
  mappings.flatMap((m) => allRecords(m)).map((r) => `${r.partition}:${r.offset}`);
const messages = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ key: `k${(from + i) % 40}`, value: String(from + i) }));

describe.skipIf(!kafkaAvailable)('Kafka mappings across replicas and broker restarts', () => {
  beforeAll(async () => {
    kafka = await startKafka();
  }, 120_000);
  afterAll(async () => {
    await kafka?.close();
  });

  it('rebalances partitions when a second gateway joins and leaves, losing no record', async () => {
    await kafka.createTopic('shared', 4);
    await produce(kafka.bootstrap, 'shared', messages(0, 2000));
    const spec = {
      source: { kafka: { bootstrapServers: [kafka.bootstrap], topic: 'shared' } },
      startingPosition: 'TRIM_HORIZON',
      batchSize: 50,
      maximumBatchingWindowSeconds: 0,
    };
    // Same mapping name: the same consumer group, as two gateway replicas running one manifest.
    const a = startMapping(spec, undefined, 'shared-orders', 10);
    await eventually(() => allRecords(a).length >= 300, 60_000, 'the first gateway to start');
    const b = startMapping(spec, undefined, 'shared-orders', 10);
    const connected = (m: RunningMapping) =>
      m.status().conditions.some((c) => c.type === 'SourceConnected' && c.status === 'True');
    await eventually(() => connected(b), 60_000, 'the second gateway to join');
    await produce(kafka.bootstrap, 'shared', messages(2000, 2000));
    await eventually(() => allRecords(b).length > 0, 60_000, 'the second gateway to get partitions');
    await eventually(() => new Set(ids(a, b)).size >= 4000, 120_000, 'every record');
    const partitionsOfB = new Set(allRecords(b).map((r) => r.partition));
    expect(partitionsOfB.size).toBeGreaterThan(0);
    expect(partitionsOfB.size).toBeLessThan(4);

    // The first gateway leaves: the second takes over every partition.
    await a.stop();
    await produce(kafka.bootstrap, 'shared', messages(4000, 1000));
    await eventually(() => new Set(ids(a, b)).size >= 5000, 120_000, 'records after the first gateway left');
    await b.stop();
    expect(new Set(allRecords(b).map((r) => r.partition)).size).toBe(4);
    const all = ids(a, b);
    const duplicates = all.length - new Set(all).size;
    // At least once: records between the last commit and a rebalance may be delivered twice, never lost.
    expect(new Set(all).size).toBe(5000);
    expect(duplicates).toBeLessThan(1000);
    console.log(`rebalance: ${all.length} deliveries of 5000 records, ${duplicates} duplicates`);
  }, 300_000);

  it('reports a stopped broker and recovers when it is back', async () => {
    await kafka.createTopic('flaky', 1);
    await produce(kafka.bootstrap, 'flaky', messages(0, 100));
    const m = startMapping({
      source: { kafka: { bootstrapServers: [kafka.bootstrap], topic: 'flaky' } },
      startingPosition: 'TRIM_HORIZON',
      maximumBatchingWindowSeconds: 0,
    });
    await eventually(() => new Set(ids(m)).size === 100, 60_000, 'the first records');
    await kafka.stop();
    const connected = () => m.status().conditions.find((c) => c.type === 'SourceConnected')?.status;
    await eventually(() => connected() === 'False', 90_000, 'the outage in the status');
    expect(m.status().lastProcessingResult).toBe(
      'PROBLEM: Connection error. The event source could not be reached.',
    );
    await kafka.start();
    await eventually(() => connected() === 'True', 120_000, 'the reconnection');
    await produce(kafka.bootstrap, 'flaky', messages(100, 100));
    await eventually(() => new Set(ids(m)).size === 200, 120_000, 'records after the restart');
    await m.stop();
  }, 360_000);
});
