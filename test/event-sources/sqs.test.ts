// SQS mappings against a real ElasticMQ: Lambda's aws:sqs event field for field, each partial batch
// response rule, filters (JSON and plain-string bodies), FIFO order with parallel groups and a poison message
// that holds back only its own group, the queue's redrive to its DLQ, and a throttled batch that is not lost.
import { GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
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
  batchesOf,
  createQueue,
  deliveries,
  eventually,
  mappingDoc,
  maxOverlap,
  type Queue,
  queueDepth,
  RECORDER,
  sendAll,
} from './sqs-support.ts';

const PARTIAL_CASES = [
  // [case, which of the three messages come back]
  ['partial', [false, true, false]],
  ['empty-list', [false, false, false]],
  ['null-list', [false, false, false]],
  ['null-response', [false, false, false]],
  ['unknown-id', [true, true, true]],
  ['empty-id', [true, true, true]],
  ['null-id', [true, true, true]],
  ['wrong-key', [true, true, true]],
  ['throw', [true, true, true]],
] as const;

describe.skipIf(!sqsServerAvailable)('SQS event source mappings', () => {
  let server: TestSqsServer;
  let sqs: SQSClient;
  let sink: HttpSink;
  let serval: TestServal;
  const queues: Record<string, Queue> = {};

  beforeAll(async () => {
    server = await startSqsServer();
    sqs = server.client();
    sink = await startHttpSink();
    queues.standard = await createQueue(sqs, 'standard');
    queues.filtered = await createQueue(sqs, 'filtered');
    queues.dlq = await createQueue(sqs, 'poison-dlq');
    queues.redrive = await createQueue(sqs, 'redrive', {
      visibilitySeconds: 1,
      deadLetter: { arn: queues.dlq.arn, maxReceiveCount: 2 },
    });
    queues.fifoDlq = await createQueue(sqs, 'orders-dlq.fifo');
    queues.fifo = await createQueue(sqs, 'orders.fifo', {
      visibilitySeconds: 3,
      deadLetter: { arn: queues.fifoDlq.arn, maxReceiveCount: 2 },
    });
    queues.throttled = await createQueue(sqs, 'throttled');
    for (const [c] of PARTIAL_CASES)
      queues[c] = await createQueue(sqs, `partial-${c}`, { visibilitySeconds: 3 });

    const fn = (name: string, spec: Record<string, unknown> = {}) => ({
      name,
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      inline: { 'index.mjs': RECORDER },
      environment: { SINK: sink.url },
      timeoutSeconds: 30,
      spec,
    });
    const sqsSource = (q: Queue) => ({ sqs: { queueUrl: q.url } });
    serval = await startServal({
      // The recording functions post to a sink on the host's loopback, which a sandbox would hide.
      config: { localIsolation: 'off' },
      functions: [
        fn('recorder'),
        fn('partial'),
        fn('sieve'),
        fn('ordered'),
        fn('scarce', { reservedConcurrency: 1 }),
      ],
      documents: [
        mappingDoc('standard', { functionName: 'recorder', source: sqsSource(queues.standard!) }),
        mappingDoc('redrive', { functionName: 'recorder', source: sqsSource(queues.redrive!) }),
        ...PARTIAL_CASES.map(([c]) =>
          mappingDoc(`partial-${c}`, {
            functionName: 'partial',
            source: sqsSource(queues[c]!),
            maximumBatchingWindowSeconds: 1,
            functionResponseTypes: ['ReportBatchItemFailures'],
          }),
        ),
        mappingDoc('filtered', {
          functionName: 'sieve',
          source: sqsSource(queues.filtered!),
          filterCriteria: {
            filters: [
              { pattern: JSON.stringify({ body: { kind: ['order'], amount: [{ numeric: ['>=', 100] }] } }) },
              { pattern: JSON.stringify({ body: [{ prefix: 'URGENT' }] }) },
            ],
          },
        }),
        mappingDoc('ordered', { functionName: 'ordered', source: sqsSource(queues.fifo!), batchSize: 1 }),
        mappingDoc('scarce', { functionName: 'scarce', source: sqsSource(queues.throttled!), batchSize: 1 }),
      ],
      env: {
        AWS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
      },
    });
    expect(serval.loaded.problems).toEqual([]);
  }, 240_000);

  afterAll(async () => {
    await serval?.stop();
    await sink?.close();
    await server?.close();
  });

  it("delivers Lambda's aws:sqs records field for field, in batches of at most 10, and deletes them", async () => {
    const ids = await sendAll(
      sqs,
      queues.standard!,
      Array.from({ length: 25 }, (_, i) => ({
        MessageBody: JSON.stringify({ n: i }),
        MessageAttributes: {
          colour: { DataType: 'String', StringValue: 'blue' },
          blob: { DataType: 'Binary', BinaryValue: Buffer.from([1, 2, 3]) },
        },
      })),
    );
    await eventually(() => deliveries(sink, 'recorder').size >= 25 || undefined, '25 deliveries');
    const batches = batchesOf(sink, 'recorder');
    expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(10);
    const record = batches.flat().find((r) => r.messageId === ids[0])!;
    expect(Object.keys(record)).toEqual([
      'messageId',
      'receiptHandle',
      'body',
      'attributes',
      'messageAttributes',
      'md5OfBody',
      'md5OfMessageAttributes',
      'eventSource',
      'eventSourceARN',
      'awsRegion',
    ]);
    expect(record).toMatchObject({
      body: '{"n":0}',
      md5OfBody: expect.stringMatching(/^[0-9a-f]{32}$/),
      eventSource: 'aws:sqs',
      eventSourceARN: queues.standard!.arn,
      awsRegion: 'local',
    });
    expect(Object.keys(record.attributes)).toEqual([
      'ApproximateReceiveCount',
      'SentTimestamp',
      'SenderId',
      'ApproximateFirstReceiveTimestamp',
    ]);
    expect(record.attributes.ApproximateReceiveCount).toBe('1');
    expect(record.messageAttributes).toEqual({
      colour: { stringValue: 'blue', stringListValues: [], binaryListValues: [], dataType: 'String' },
      blob: { binaryValue: 'AQID', stringListValues: [], binaryListValues: [], dataType: 'Binary' },
    });
    await eventually(
      async () => (await queueDepth(sqs, queues.standard!)) === 0 || undefined,
      'an empty queue',
    );
  });

  it.each(PARTIAL_CASES)(
    'partial batch response "%s" returns exactly the failed messages',
    async (c, back) => {
      const ids = await sendAll(
        sqs,
        queues[c]!,
        back.map((_, i) => ({ MessageBody: JSON.stringify({ case: c, i, fail: i === 1 }) })),
      );
      const expected = new Map(ids.map((id, i) => [id, back[i] ? 2 : 1]));
      await eventually(
        async () => (await queueDepth(sqs, queues[c]!)) === 0 || undefined,
        `${c}: queue drained`,
      );
      const seen = deliveries(sink, 'partial');
      // The first delivery carried all three in one batch, so the response decided for all of them.
      const first = batchesOf(sink, 'partial').find((b) => b.some((r) => r.messageId === ids[0]))!;
      expect(first.map((r) => r.messageId).sort()).toEqual([...ids].sort());
      expect(new Map(ids.map((id) => [id, seen.get(id)]))).toEqual(expected);
    },
  );

  it('invokes only for messages that match a filter, and deletes the others (JSON and plain bodies)', async () => {
    const bodies = [
      JSON.stringify({ kind: 'order', amount: 150 }), // match: filter 1
      JSON.stringify({ kind: 'order', amount: 50 }), // no: amount
      JSON.stringify({ kind: 'refund', amount: 500 }), // no: kind
      'URGENT: call back', // match: filter 2, a plain-string body
      'routine note', // no: plain string without the prefix
      '{"kind": "order", "amount": 100}', // match: the bound is inclusive
      '{not json', // no: plain string, and filter 1 wants JSON
    ];
    const ids = await sendAll(
      sqs,
      queues.filtered!,
      bodies.map((b) => ({ MessageBody: b })),
    );
    await eventually(
      async () => (await queueDepth(sqs, queues.filtered!)) === 0 || undefined,
      'filtered drained',
    );
    const seen = deliveries(sink, 'sieve');
    expect([...seen.keys()].sort()).toEqual([ids[0], ids[3], ids[5]].sort());
    const metrics = await (await fetch(serval.metricsUrl!)).text();
    expect(metrics).toMatch(
      /serval_event_source_messages_total\{[^}]*mapping="filtered"[^}]*outcome="filtered"\} 4/,
    );
  });

  it('sends a message that keeps failing to the queue’s own DLQ after maxReceiveCount receives', async () => {
    const [poison] = await sendAll(sqs, queues.redrive!, [{ MessageBody: JSON.stringify({ poison: true }) }]);
    const moved = await eventually(async () => {
      const { Messages } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queues.dlq!.url,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      return Messages?.find((m) => m.MessageId === poison);
    }, 'the poison message in the DLQ');
    expect(moved.Body).toBe('{"poison":true}');
    expect(deliveries(sink, 'recorder').get(poison!)).toBe(2);
  });

  it('keeps FIFO order per group, runs groups in parallel, and lets a poison message hold back only its group', async () => {
    const groups = ['a', 'b', 'c'];
    const entries = [];
    for (let i = 0; i < 6; i++) {
      for (const g of groups) {
        entries.push({
          MessageGroupId: g,
          MessageBody: JSON.stringify({ g, i, sleepMs: 100, poison: g === 'b' && i === 2 }),
        });
      }
    }
    await sendAll(sqs, queues.fifo!, entries);
    const done = (g: string) =>
      batchesOf(sink, 'ordered')
        .flat()
        .filter((r) => JSON.parse(r.body).g === g);
    const distinct = (g: string) => new Set(done(g).map((r) => r.messageId)).size;
    await eventually(() => (distinct('a') >= 6 && distinct('c') >= 6) || undefined, 'groups a and c');
    await eventually(() => done('b').some((r) => JSON.parse(r.body).i === 5) || undefined, 'group b');
    for (const g of groups) {
      // First deliveries in order; b's poison message came twice, then went to the DLQ and b went on.
      const order = done(g)
        .map((r) => JSON.parse(r.body).i as number)
        .filter((i, k, all) => all.indexOf(i) === k);
      expect(order, `group ${g}`).toEqual([0, 1, 2, 3, 4, 5]);
    }
    const poisonDeliveries = done('b').filter((r) => JSON.parse(r.body).i === 2);
    expect(poisonDeliveries.length).toBe(2);
    const b = done('b').map((r) => JSON.parse(r.body).i as number);
    expect(b.indexOf(3)).toBeGreaterThan(b.lastIndexOf(2));
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.fifoDlq!.url, WaitTimeSeconds: 2 }),
    );
    expect(Messages?.map((m) => JSON.parse(m.Body!).i)).toEqual([2]);
    // Groups ran side by side: invocations of different groups overlapped.
    expect(maxOverlap(sink, 'ordered')).toBeGreaterThanOrEqual(2);
  });

  it('retries a throttled batch until it runs: nothing is lost', async () => {
    // The function's one unit of concurrency is held by a slow synchronous call while the messages arrive.
    const slow = serval.invoke('scarce', {
      Records: [{ body: JSON.stringify({ sleepMs: 3000 }), attributes: {} }],
    });
    await eventually(
      () => sink.requests.some((r) => r.path === '/scarce') || undefined,
      'the slow call to start',
    );
    const ids = await sendAll(
      sqs,
      queues.throttled!,
      Array.from({ length: 5 }, (_, i) => ({ MessageBody: JSON.stringify({ i }) })),
    );
    expect((await slow).status).toBe(200);
    await eventually(() => ids.every((id) => deliveries(sink, 'scarce').has(id)) || undefined, 'all five');
    const metrics = await (await fetch(serval.metricsUrl!)).text();
    const throttles = /serval_event_source_throttles_total\{[^}]*mapping="scarce"[^}]*\} (\d+)/.exec(metrics);
    expect(Number(throttles?.[1] ?? 0)).toBeGreaterThan(0);
    await eventually(
      async () => (await queueDepth(sqs, queues.throttled!)) === 0 || undefined,
      'throttled drained',
    );
  });

  it('reports the queue it reads in its backlog gauge', async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queues.standard!.url,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    expect(Attributes?.ApproximateNumberOfMessages).toBe('0');
    const metrics = await eventually(
      async () => {
        const text = await (await fetch(serval.metricsUrl!)).text();
        return /serval_event_source_backlog_messages\{[^}]*mapping="standard"/.test(text) ? text : undefined;
      },
      'the backlog gauge',
      15_000,
    );
    expect(metrics).toMatch(/serval_event_source_up\{[^}]*mapping="standard"[^}]*\} 1/);
  });

  it('counts its API calls to the queue by operation (SQS bills per request)', async () => {
    // By now the standard mapping has received, deleted (in batches) and read its queue's attributes.
    const text = await (await fetch(serval.metricsUrl!)).text();
    const calls = (operation: string) =>
      Number(
        new RegExp(
          `serval_event_source_broker_requests_total\\{[^}]*mapping="standard"[^}]*operation="${operation}"\\} (\\d+)`,
        ).exec(text)?.[1] ?? 0,
      );
    expect(calls('ReceiveMessage')).toBeGreaterThan(0);
    expect(calls('DeleteMessageBatch')).toBeGreaterThan(0);
    expect(calls('GetQueueAttributes')).toBeGreaterThan(0);
    expect(calls('DeleteMessage')).toBe(0);
  });
});
