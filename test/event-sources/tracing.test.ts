// Each batch is a span from receive to settle, and the invocation it makes is its child, in one trace.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import { eventually, mappingDoc } from './sqs-support.ts';

describe.skipIf(!natsAvailable)('event source tracing', () => {
  const exporter = new InMemorySpanExporter();
  let nats: TestNats;
  let publisher: NatsConnection;
  let serval: TestServal;

  beforeAll(async () => {
    nats = await startNats();
    publisher = await connect({ servers: nats.url });
    await (await jetstreamManager(publisher)).streams.add({ name: 'TRACE', subjects: ['trace.>'] });
    serval = await startServal({
      functions: [
        {
          name: 'traced',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: { 'index.mjs': 'export const handler = async () => ({});' },
        },
      ],
      documents: [
        mappingDoc('trace', {
          functionName: 'traced',
          source: { nats: { url: nats.url, subject: 'trace.>', stream: 'TRACE' } },
          maximumBatchingWindowSeconds: 0,
        }),
      ],
      observability: { spanExporter: exporter },
    });
  }, 60_000);

  afterAll(async () => {
    await serval?.stop();
    await publisher?.close();
    await nats?.stop();
  });

  it('makes the invocation a child of the batch span, which starts at receive', async () => {
    const before = Date.now();
    await jetstream(publisher).publish('trace.one', '{}');
    const batch = await eventually(
      () => exporter.getFinishedSpans().find((s) => s.name === 'event-source.batch'),
      'the batch span',
    );
    expect(batch.attributes).toMatchObject({
      'serval.event_source.kind': 'nats',
      'serval.event_source.batch_size': 1,
      'faas.trigger': 'pubsub',
    });
    const invoke = await eventually(
      () =>
        exporter
          .getFinishedSpans()
          .find((s) => s.name === 'invoke' && s.parentSpanContext?.spanId === batch.spanContext().spanId),
      'the invoke span under it',
    );
    expect(invoke.spanContext().traceId).toBe(batch.spanContext().traceId);
    const startMs = batch.startTime[0] * 1000 + batch.startTime[1] / 1e6;
    expect(startMs).toBeGreaterThanOrEqual(before - 5);
  });
});
