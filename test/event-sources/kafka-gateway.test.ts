// A Kafka mapping from a manifest, end to end through a real gateway and a real Node runtime: the function gets
// Lambda's self-managed Kafka event, and a mapping on a topic that does not exist reports it in its status
// instead of crashing or retrying silently.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaAvailable, startKafka, type TestKafka } from '../support/kafka.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import { produce } from './kafka-harness.ts';

let kafka: TestKafka;
let serval: TestServal;

const mapping = (name: string, topic: string) => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'EventSourceMapping',
  metadata: { name },
  spec: {
    functionName: 'consumer',
    source: { kafka: { bootstrapServers: [kafka.bootstrap], topic } },
    startingPosition: 'TRIM_HORIZON',
    batchSize: 10,
  },
});

describe.skipIf(!kafkaAvailable)('Kafka mappings in a gateway', () => {
  beforeAll(async () => {
    kafka = await startKafka();
    await kafka.createTopic('orders', 2);
    await produce(kafka.bootstrap, 'orders', [
      { key: 'o-1', value: '{"order":1}', partition: 0 },
      { key: 'o-2', value: '{"order":2}', partition: 1 },
    ]);
    serval = await startServal({
      functions: [
        {
          name: 'consumer',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: {
            'index.mjs':
              'export const handler = async (event) => { console.log("BATCH " + JSON.stringify(event)); };',
          },
        },
      ],
      documents: [mapping('orders', 'orders'), mapping('missing', 'no-such-topic')],
    });
  }, 120_000);
  afterAll(async () => {
    await serval?.stop();
    await kafka?.close();
  });

  it('invokes the function with the self-managed Kafka event', async () => {
    const batches = () =>
      serval
        .logs('consumer')
        .filter((l) => l.includes('BATCH '))
        .map((l) => JSON.parse(l.slice(l.indexOf('BATCH ') + 6)));
    // Delivery is at least once: wait for both partitions rather than for a count a redelivery could fake.
    const partitions = () => [...new Set(batches().flatMap((b) => Object.keys(b.records)))].sort();
    await expect.poll(partitions, { timeout: 60_000 }).toEqual(['orders-0', 'orders-1']);
    const event = batches()[0];
    expect(event.eventSource).toBe('SelfManagedKafka');
    expect(event.bootstrapServers).toBe(kafka.bootstrap);
    const records = batches().flatMap((b) => Object.entries(b.records));
    expect([...new Set(records.map(([key]) => key))].sort()).toEqual(['orders-0', 'orders-1']);
    const [, [first]] = records.find(([key]) => key === 'orders-0')! as [string, any[]];
    expect(first).toMatchObject({
      topic: 'orders',
      partition: 0,
      offset: 0,
      timestampType: 'CREATE_TIME',
      key: Buffer.from('o-1').toString('base64'),
      value: Buffer.from('{"order":1}').toString('base64'),
      headers: [],
    });
  }, 90_000);

  it('reports a topic that does not exist in the mapping status', async () => {
    const problem = async () => {
      const list = (await (await fetch(`${serval.url}/2015-03-31/event-source-mappings/`)).json()) as {
        EventSourceMappings: { UUID: string; LastProcessingResult: string }[];
      };
      return list.EventSourceMappings.map((m) => m.LastProcessingResult);
    };
    await expect
      .poll(problem, { timeout: 30_000 })
      .toContain('PROBLEM: Connection error. The event source could not be reached.');
    expect(serval.gatewayLog().join('\n')).toContain('topic "no-such-topic" does not exist');
  }, 60_000);
});
