// Lambda's stream semantics for Kafka mappings against a real KRaft broker: order per partition and per key
// with parallelizationFactor 10, retries that hold the partition back, bisect on error, retry exhaustion and
// record-age expiry with the on-failure record checked field by field, and the three starting positions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaAvailable, startKafka, type TestKafka } from '../support/kafka.ts';
import { allRecords, eventually, produce, type SeenRecord, startMapping } from './kafka-harness.ts';

let kafka: TestKafka;
let topicCount = 0;
async function topic(partitions: number): Promise<string> {
  const name = `stream-${++topicCount}`;
  await kafka.createTopic(name, partitions);
  return name;
}
const source = (topicName: string) => ({ kafka: { bootstrapServers: [kafka.bootstrap], topic: topicName } });
const destination = { onFailure: { http: { url: 'http://127.0.0.1:9/failed' } } };

describe.skipIf(!kafkaAvailable)('Kafka stream mappings', () => {
  beforeAll(async () => {
    kafka = await startKafka();
  }, 120_000);
  afterAll(async () => {
    await kafka?.close();
  });

  it('keeps order per key over 10,000 records with parallelizationFactor 10, one slot per batch', async () => {
    const t = await topic(4);
    const keys = 100;
    const perKey = 100;
    const messages = [];
    for (let seq = 0; seq < perKey; seq++) {
      for (let k = 0; k < keys; k++) messages.push({ key: `key-${k}`, value: String(seq) });
    }
    await produce(kafka.bootstrap, t, messages);
    const m = startMapping(
      {
        source: source(t),
        startingPosition: 'TRIM_HORIZON',
        parallelizationFactor: 10,
        batchSize: 100,
        maximumBatchingWindowSeconds: 0,
      },
      undefined,
      undefined,
      20,
    );
    const distinct = () => new Set(allRecords(m).map((r) => `${r.partition}:${r.offset}`)).size;
    await eventually(() => distinct() >= keys * perKey, 150_000, 'all records');
    await m.stop();
    // At least once: a rebalance may replay records after the last commit. Their first deliveries are the order.
    const firstSeen = new Set<string>();
    const seen = new Map<string, number[]>();
    let duplicates = 0;
    for (const r of allRecords(m)) {
      const id = `${r.partition}:${r.offset}`;
      if (firstSeen.has(id)) {
        duplicates++;
        continue;
      }
      firstSeen.add(id);
      seen.set(r.key, [...(seen.get(r.key) ?? []), Number(r.value)]);
    }
    expect(seen.size).toBe(keys);
    for (const [key, seqs] of seen) {
      expect(seqs, key).toEqual(Array.from({ length: perKey }, (_, i) => i));
    }
    expect(duplicates).toBeLessThan(keys * perKey);
    // A batch holds one partition's records, in offset order.
    for (const batch of m.batches) {
      expect(new Set(batch.map((r) => r.partition)).size).toBe(1);
      expect(batch.map((r) => r.offset)).toEqual([...batch.map((r) => r.offset)].sort((a, b) => a - b));
    }
    // Batches of one partition ran concurrently (its key slots), not one after another.
    expect(m.maxConcurrentPerPartition()).toBeGreaterThan(1);
  }, 180_000);

  it('retries a failing batch holding its partition back, then discards it with the failure record', async () => {
    const t = await topic(1);
    const before = Date.now();
    await produce(
      kafka.bootstrap,
      t,
      [0, 1, 2].map((i) => ({ key: 'k', value: `bad-${i}`, partition: 0 })),
    );
    const m = startMapping(
      {
        source: source(t),
        startingPosition: 'TRIM_HORIZON',
        maximumRetryAttempts: 2,
        maximumBatchingWindowSeconds: 1,
        destinationConfig: destination,
      },
      (batch) => (batch.some((r) => r.value.startsWith('bad')) ? { error: 'cannot process' } : undefined),
    );
    await eventually(() => m.failures.length === 1, 60_000, 'the failure record');
    // While the batch was retried, nothing after it was delivered.
    expect(m.batches).toHaveLength(3);
    for (const b of m.batches) expect(b.map((r) => r.offset)).toEqual([0, 1, 2]);
    await produce(kafka.bootstrap, t, [{ key: 'k', value: 'good', partition: 0 }]);
    await eventually(() => allRecords(m).some((r) => r.value === 'good'), 30_000, 'the next record');
    await m.stop();

    const f = m.failures[0]!;
    expect(f.requestContext).toEqual({
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      functionArn: 'arn:serval:lambda:local:default:function:consumer',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
    });
    expect(f.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(f.version).toBe('1.0');
    expect(Date.parse(f.timestamp)).toBeGreaterThanOrEqual(before);
    const info = f.KafkaBatchInfo;
    expect(info).toMatchObject({
      batchSize: 3,
      bootstrapServers: kafka.bootstrap,
      consumerGroupId: expect.stringMatching(/^serval-default-/),
    });
    expect(info.payloadSize).toBeGreaterThan(0);
    expect(Object.keys(info.recordsInfo)).toEqual([`${t}-0`]);
    expect(info.recordsInfo[`${t}-0`]).toMatchObject({ firstRecordOffset: '0', lastRecordOffset: '2' });
    expect(Date.parse(info.recordsInfo[`${t}-0`].firstRecordTimestamp)).toBeGreaterThanOrEqual(before - 1000);
  }, 90_000);

  it('bisects a failing batch down to the poison record and discards only it', async () => {
    const t = await topic(1);
    const values = ['a', 'b', 'c', 'poison', 'e', 'f', 'g', 'h'];
    await produce(
      kafka.bootstrap,
      t,
      values.map((value) => ({ key: 'k', value, partition: 0 })),
    );
    const succeeded: SeenRecord[] = [];
    const m = startMapping(
      {
        source: source(t),
        startingPosition: 'TRIM_HORIZON',
        bisectBatchOnFunctionError: true,
        maximumRetryAttempts: 0,
        batchSize: 8,
        maximumBatchingWindowSeconds: 2,
        destinationConfig: destination,
      },
      (batch) => {
        if (batch.some((r) => r.value === 'poison')) return { error: 'poison' };
        succeeded.push(...batch);
        return undefined;
      },
    );
    await eventually(() => succeeded.length === 7 && m.failures.length === 1, 60_000, 'bisected batches');
    await m.stop();
    expect(succeeded.map((r) => r.value)).toEqual(['a', 'b', 'c', 'e', 'f', 'g', 'h']);
    expect(m.batches[0]!.map((r) => r.value)).toEqual(values);
    const f = m.failures[0]!;
    expect(f.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(f.KafkaBatchInfo.batchSize).toBe(1);
    expect(f.KafkaBatchInfo.recordsInfo[`${t}-0`]).toMatchObject({
      firstRecordOffset: '3',
      lastRecordOffset: '3',
    });
  }, 90_000);

  it('discards records older than maximumRecordAgeSeconds instead of retrying them', async () => {
    const t = await topic(1);
    const old = Date.now() - 120_000;
    await produce(kafka.bootstrap, t, [
      { key: 'k', value: 'old', partition: 0, timestamp: old },
      { key: 'k', value: 'old-too', partition: 0, timestamp: old + 1 },
    ]);
    const m = startMapping(
      {
        source: source(t),
        startingPosition: 'TRIM_HORIZON',
        maximumRecordAgeSeconds: 60,
        destinationConfig: destination,
      },
      () => ({ error: 'always' }),
    );
    await eventually(() => m.failures.length === 1, 60_000, 'the failure record');
    await m.stop();
    expect(m.batches).toHaveLength(1);
    const f = m.failures[0]!;
    expect(f.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 1 });
    expect(f.KafkaBatchInfo.recordsInfo[`${t}-0`]).toEqual({
      firstRecordOffset: '0',
      lastRecordOffset: '1',
      firstRecordTimestamp: new Date(old).toISOString(),
      lastRecordTimestamp: new Date(old + 1).toISOString(),
    });
  }, 90_000);

  it('resumes from the lowest failed record of a partial batch response', async () => {
    const t = await topic(1);
    await produce(
      kafka.bootstrap,
      t,
      ['r0', 'r1', 'r2', 'r3', 'r4'].map((value) => ({ value, partition: 0 })),
    );
    let first = true;
    const m = startMapping(
      {
        source: source(t),
        startingPosition: 'TRIM_HORIZON',
        functionResponseTypes: ['ReportBatchItemFailures'],
        batchSize: 5,
        maximumBatchingWindowSeconds: 2,
      },
      () => {
        if (!first) return undefined;
        first = false;
        return { batchItemFailures: [{ itemIdentifier: '3' }, { itemIdentifier: '2' }] };
      },
    );
    await eventually(() => m.batches.length === 2, 30_000, 'the retried batch');
    await m.stop();
    expect(m.batches[1]!.map((r) => r.value)).toEqual(['r2', 'r3', 'r4']);
  }, 60_000);

  it('sends a record too large to invoke with to the failure destination and moves on', async () => {
    const t = await topic(1);
    const big = 'x'.repeat(4_800_000); // over 6 MB as base64 in the event
    await produce(kafka.bootstrap, t, [
      { value: 'before', partition: 0 },
      { value: big, partition: 0 },
      { value: 'after', partition: 0 },
    ]);
    const m = startMapping({
      source: source(t),
      startingPosition: 'TRIM_HORIZON',
      maximumBatchingWindowSeconds: 0,
      destinationConfig: destination,
    });
    await eventually(
      () => allRecords(m).some((r) => r.value === 'after') && m.failures.length === 1,
      60_000,
      'the rest',
    );
    await m.stop();
    expect(allRecords(m).map((r) => r.value)).toEqual(['before', 'after']);
    const f = m.failures[0]!;
    // Never invoked (the function saw only the records around it); the count is the runtime's delivery count.
    expect(f.requestContext).toMatchObject({ condition: 'PayloadTooLarge' });
    expect(f.KafkaBatchInfo).toMatchObject({ batchSize: 1 });
    expect(f.KafkaBatchInfo.recordsInfo[`${t}-0`]).toMatchObject({
      firstRecordOffset: '1',
      lastRecordOffset: '1',
    });
  }, 90_000);

  it("names the topic's timestamp type: LOG_APPEND_TIME for a topic that keeps the broker's time", async () => {
    // (The record's `timestamp` stays the producer's: @platformatic/kafka does not expose the batch's
    // broker time. docs/event-sources.md notes it.)
    const name = `stream-${++topicCount}`;
    await kafka.createTopic(name, 1, { 'message.timestamp.type': 'LogAppendTime' });
    await produce(kafka.bootstrap, name, [{ value: 'stamped', partition: 0, timestamp: 1_000 }]);
    const types: string[] = [];
    const m = startMapping({ source: source(name), startingPosition: 'TRIM_HORIZON' }, (_batch, event) => {
      for (const r of Object.values(event.records).flat()) types.push(r.timestampType);
      return undefined;
    });
    await eventually(() => types.length === 1, 60_000, 'the record');
    await m.stop();
    expect(types).toEqual(['LOG_APPEND_TIME']);
  }, 60_000);

  it('starts at TRIM_HORIZON, LATEST or AT_TIMESTAMP', async () => {
    const t = await topic(1);
    const base = Date.now() - 600_000;
    await produce(
      kafka.bootstrap,
      t,
      [0, 1, 2, 3].map((i) => ({ value: `early-${i}`, partition: 0, timestamp: base + i * 60_000 })),
    );
    const horizon = startMapping({ source: source(t), startingPosition: 'TRIM_HORIZON' });
    const latest = startMapping({ source: source(t), startingPosition: 'LATEST' });
    const atTime = startMapping({
      source: source(t),
      startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: new Date(base + 2 * 60_000).toISOString(),
    });
    await eventually(
      () => allRecords(horizon).length === 4 && allRecords(atTime).length === 2,
      60_000,
      'old records',
    );
    // LATEST has joined its group and positioned itself once TRIM_HORIZON is reading; give it a moment more.
    await eventually(
      () => latest.status().conditions.some((c) => c.type === 'SourceConnected' && c.status === 'True'),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    await produce(kafka.bootstrap, t, [{ value: 'late', partition: 0 }]);
    await eventually(
      () => [horizon, latest, atTime].every((m) => allRecords(m).some((r) => r.value === 'late')),
      60_000,
      'the new record',
    );
    await Promise.all([horizon, latest, atTime].map((m) => m.stop()));
    expect(allRecords(horizon).map((r) => r.value)).toEqual([
      'early-0',
      'early-1',
      'early-2',
      'early-3',
      'late',
    ]);
    expect(allRecords(latest).map((r) => r.value)).toEqual(['late']);
    expect(allRecords(atTime).map((r) => r.value)).toEqual(['early-2', 'early-3', 'late']);
  }, 120_000);
});
