// How many batches of one SQS mapping run at once, seen from the handler: each invocation posts to the sink
// when it starts and again when its sleep ends, so the sink's order tells which overlapped. The poll loops
// scale up while batches come full (batch size 1: every batch is full), and stop at
// scalingConfig.maximumConcurrency or at the function's reserved concurrency, whichever is lower.
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import {
  SQS_CREDENTIALS,
  sqsServerAvailable,
  startSqsServer,
  type TestSqsServer,
} from '../support/sqs-server.ts';
import {
  createQueue,
  deliveries,
  eventually,
  mappingDoc,
  maxOverlap,
  type Queue,
  RECORDER,
  sendAll,
} from './sqs-support.ts';

const MESSAGES = 24;

describe.skipIf(!sqsServerAvailable)('SQS mapping concurrency', () => {
  let server: TestSqsServer;
  let sqs: SQSClient;
  let sink: HttpSink;
  let serval: TestServal;
  const queues: Record<string, Queue> = {};

  beforeAll(async () => {
    server = await startSqsServer();
    sqs = server.client();
    sink = await startHttpSink();
    // A long visibility timeout: no message comes back while a slow start holds it.
    for (const name of ['capped', 'reserved', 'both'])
      queues[name] = await createQueue(sqs, name, { visibilitySeconds: 120 });
    const fn = (name: string, spec: Record<string, unknown> = {}) => ({
      name,
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      inline: { 'index.mjs': RECORDER },
      environment: { SINK: sink.url },
      timeoutSeconds: 60,
      spec,
    });
    const mapping = (name: string, spec: Record<string, unknown> = {}) =>
      mappingDoc(name, {
        functionName: name,
        source: { sqs: { queueUrl: queues[name]!.url } },
        batchSize: 1,
        ...spec,
      });
    serval = await startServal({
      config: { localIsolation: 'off' },
      env: {
        AWS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
      },
      functions: [
        fn('capped'),
        fn('reserved', { reservedConcurrency: 3 }),
        fn('both', { reservedConcurrency: 2 }),
      ],
      documents: [
        mapping('capped', { scalingConfig: { maximumConcurrency: 2 } }),
        mapping('reserved'),
        mapping('both', { scalingConfig: { maximumConcurrency: 5 } }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
  }, 240_000);

  afterAll(async () => {
    sqs?.destroy();
    await serval?.stop();
    await sink?.close();
    await server?.close();
  });

  const drain = async (name: string) => {
    const ids = await sendAll(
      sqs,
      queues[name]!,
      Array.from({ length: MESSAGES }, (_, i) => ({ MessageBody: JSON.stringify({ i, sleepMs: 400 }) })),
    );
    await eventually(
      () => ids.every((id) => deliveries(sink, name).has(id)) || undefined,
      `all ${MESSAGES} messages of ${name}`,
      200_000,
    );
  };
  const throttles = async (name: string) => {
    const text = await (await fetch(serval.metricsUrl!)).text();
    const m = new RegExp(`serval_event_source_throttles_total\\{[^}]*mapping="${name}"[^}]*\\} (\\d+)`).exec(
      text,
    );
    return Number(m?.[1] ?? 0);
  };

  it('scalingConfig.maximumConcurrency bounds the batches in flight', async () => {
    await drain('capped');
    expect(maxOverlap(sink, 'capped')).toBe(2);
  }, 240_000);

  it("the function's reserved concurrency bounds the poll loops, so no batch is even throttled", async () => {
    await drain('reserved');
    expect(maxOverlap(sink, 'reserved')).toBe(3);
    // The loops stopped at three: admission never had to turn a fourth batch away.
    expect(await throttles('reserved')).toBe(0);
  }, 240_000);

  it('the lower of the two wins', async () => {
    await drain('both');
    expect(maxOverlap(sink, 'both')).toBe(2);
    expect(await throttles('both')).toBe(0);
  }, 240_000);
});
