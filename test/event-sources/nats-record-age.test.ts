// NATS mappings end retries by age: with maximumRecordAgeSeconds (60 s, its minimum) and unlimited retry
// attempts, a message that keeps failing is naked and redelivered until its JetStream timestamp is more than
// a minute old; then it is terminated, never delivered again, and Lambda's on-failure record says
// RecordAgeExceeded. Takes about 65 s of mostly waiting: the backoff between deliveries doubles to 32 s.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import { eventually, mappingDoc } from './sqs-support.ts';

/** Records each batch; reports every `poison` message as failed. */
const RECORDER = `
export const handler = async (event) => {
  await fetch(process.env.SINK + '/batch', { method: 'POST', body: JSON.stringify(event) });
  const failures = event.Records.filter((r) => JSON.parse(Buffer.from(r.nats.data, 'base64').toString()).poison);
  return { batchItemFailures: failures.map((r) => ({ itemIdentifier: String(r.nats.sequence) })) };
};
`;

interface Batch {
  Records: Array<{ nats: { sequence: number; deliveryCount: number; timestamp: number } }>;
}

describe.skipIf(!natsAvailable)('NATS maximumRecordAgeSeconds', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let sink: HttpSink;
  let serval: TestServal;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    await (await jetstreamManager(nc)).streams.add({ name: 'AGED', subjects: ['aged.>'] });
    sink = await startHttpSink();
    serval = await startServal({
      config: { localIsolation: 'off' },
      functions: [
        {
          name: 'ager',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: { 'index.mjs': RECORDER },
          environment: { SINK: sink.url },
        },
      ],
      documents: [
        mappingDoc('aged', {
          functionName: 'ager',
          source: { nats: { url: nats.url, subject: 'aged.>', stream: 'AGED' } },
          batchSize: 10,
          maximumBatchingWindowSeconds: 0,
          maximumRetryAttempts: -1,
          maximumRecordAgeSeconds: 60,
          functionResponseTypes: ['ReportBatchItemFailures'],
          destinationConfig: { onFailure: { http: { url: `${sink.url}/failed` } } },
        }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
  }, 60_000);

  afterAll(async () => {
    await serval?.stop();
    await nc?.close();
    await sink?.close();
    await nats?.stop();
  });

  it('terminates a failing message once it is older than the maximum age, into a RecordAgeExceeded record', async () => {
    const js = jetstream(nc);
    const poison = (await js.publish('aged.x', '{"poison":true}')).seq;
    const good = (await js.publish('aged.x', '{"ok":true}')).seq;
    const [failure] = await sink.waitFor('/failed', 1, 180_000);
    const record = JSON.parse(failure!.body);
    expect(record).toMatchObject({
      requestContext: {
        condition: 'RecordAgeExceeded',
        functionArn: 'arn:serval:lambda:local:default:function:ager',
      },
      NatsBatchInfo: {
        stream: 'AGED',
        startSequence: String(poison),
        endSequence: String(poison),
        batchSize: 1,
      },
    });
    const deliveries = sink.requests
      .filter((r) => r.path === '/batch')
      .flatMap((r) => (JSON.parse(r.body) as Batch).Records)
      .filter((r) => r.nats.sequence === poison);
    // Redelivered (retries were unlimited) until the last delivery found it past a minute old.
    expect(deliveries.length).toBeGreaterThan(1);
    expect(deliveries.map((d) => d.nats.deliveryCount)).toEqual(deliveries.map((_, i) => i + 1));
    expect(Date.parse(record.timestamp) - deliveries[0]!.nats.timestamp).toBeGreaterThan(60_000);
    // The good message went through once; JetStream holds nothing for the consumer any more.
    const jsm = await jetstreamManager(nc);
    await eventually(async () => {
      const info = await jsm.consumers.info('AGED', 'serval-aged');
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 'nothing pending');
    expect(
      sink.requests
        .filter((r) => r.path === '/batch')
        .flatMap((r) => (JSON.parse(r.body) as Batch).Records)
        .filter((r) => r.nats.sequence === good),
    ).toHaveLength(1);
  }, 240_000);
});
