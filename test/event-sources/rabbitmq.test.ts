// RabbitMQ mappings against a real rabbitmq-server: Lambda's aws:rmq event (queue::vhost key, basicProperties
// with string headers as bytes, base64 data), prefetch following the batch size, a failed batch nacked and
// requeued until it succeeds, filters on the decoded data, and a broker restart the mapping recovers from.
import { GetEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestMappingUuid } from '../../gateway/src/event-sources/catalog.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { rabbitmqAvailable, startRabbitMq, type TestRabbitMq } from '../support/rabbitmq.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import { eventually, lambdaClient, mappingDoc } from './sqs-support.ts';

/** Records each MQ batch; a batch holding `{"fail": true}` fails until it comes back redelivered. */
const RMQ_RECORDER = `
export const handler = async (event) => {
  await fetch(process.env.SINK + '/' + process.env.AWS_LAMBDA_FUNCTION_NAME, { method: 'POST', body: JSON.stringify(event) });
  for (const messages of Object.values(event.rmqMessagesByQueue)) {
    for (const m of messages) {
      const data = Buffer.from(m.data, 'base64').toString();
      if (data.includes('"fail":true') && !m.redelivered) throw new Error('fails the first time');
    }
  }
  return 'ok';
};
`;

interface RmqEvent {
  eventSource: string;
  eventSourceArn: string;
  rmqMessagesByQueue: Record<
    string,
    Array<{ basicProperties: Record<string, unknown>; redelivered: boolean; data: string }>
  >;
}

describe.skipIf(!rabbitmqAvailable)('RabbitMQ event source mappings', () => {
  let broker: TestRabbitMq;
  let connection: ChannelModel;
  let channel: Channel;
  let sink: HttpSink;
  let serval: TestServal;

  const events = (fn: string) =>
    sink.requests.filter((r) => r.path === `/${fn}`).map((r) => JSON.parse(r.body) as RmqEvent);
  const messages = (fn: string) => events(fn).flatMap((e) => Object.values(e.rmqMessagesByQueue).flat());

  const openPublisher = async () => {
    connection = await amqp.connect(broker.url);
    channel = await connection.createChannel();
  };

  beforeAll(async () => {
    broker = await startRabbitMq();
    await openPublisher();
    await channel.assertQueue('jobs', { durable: true });
    await channel.assertQueue('picky', { durable: true });
    await channel.assertQueue('from-env', { durable: true });
    sink = await startHttpSink();
    const fn = (name: string) => ({
      name,
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      inline: { 'index.mjs': RMQ_RECORDER },
      environment: { SINK: sink.url },
    });
    serval = await startServal({
      // The recording functions post to a sink on the host's loopback, which a sandbox would hide.
      config: { localIsolation: 'off' },
      // Locally a secretRef {name: mq-local, key: url} is read from the gateway's environment.
      env: { SERVAL_SECRET_MQ_LOCAL_URL: broker.url },
      functions: [fn('worker'), fn('picky'), fn('envworker')],
      documents: [
        mappingDoc('jobs', {
          functionName: 'worker',
          source: { rabbitmq: { url: broker.url, queue: 'jobs' } },
          batchSize: 5,
          maximumBatchingWindowSeconds: 1,
        }),
        mappingDoc('picky', {
          functionName: 'picky',
          source: { rabbitmq: { url: broker.url, queue: 'picky' } },
          filterCriteria: { filters: [{ pattern: JSON.stringify({ data: { type: ['keep'] } }) }] },
        }),
        mappingDoc('from-env', {
          functionName: 'envworker',
          source: { rabbitmq: { secretRef: { name: 'mq-local' }, queue: 'from-env' } },
        }),
        mappingDoc('unset', {
          functionName: 'envworker',
          source: { rabbitmq: { secretRef: { name: 'nope' }, queue: 'from-env' } },
        }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await serval?.stop();
    await sink?.close();
    await broker?.close();
  });

  it("delivers Lambda's aws:rmq event in batches no larger than the prefetch, and acks them", async () => {
    for (let i = 0; i < 12; i++) {
      channel.sendToQueue('jobs', Buffer.from(JSON.stringify({ i })), {
        contentType: 'application/json',
        headers: { source: 'test', attempt: 1 },
        messageId: `job-${i}`,
        timestamp: 1000,
        persistent: true,
      });
    }
    await eventually(() => messages('worker').length >= 12 || undefined, 'twelve messages');
    const event = events('worker')[0]!;
    expect(event.eventSource).toBe('aws:rmq');
    expect(event.eventSourceArn).toBe('arn:serval:mq:local:default:broker:127.0.0.1');
    expect(Object.keys(event.rmqMessagesByQueue)).toEqual(['jobs::/']);
    const first = messages('worker').find((m) => m.basicProperties.messageId === 'job-0')!;
    expect(first).toEqual({
      basicProperties: {
        contentType: 'application/json',
        contentEncoding: null,
        headers: { source: { bytes: [...Buffer.from('test')] }, attempt: 1 },
        deliveryMode: 2,
        priority: null,
        correlationId: null,
        replyTo: null,
        expiration: null,
        messageId: 'job-0',
        timestamp: 'Jan 1, 1970, 12:16:40 AM',
        type: null,
        userId: null,
        appId: null,
        clusterId: null,
        bodySize: 7,
      },
      redelivered: false,
      data: Buffer.from('{"i":0}').toString('base64'),
    });
    // Prefetch follows the batch size: no batch holds more than five.
    expect(
      Math.max(...events('worker').map((e) => e.rmqMessagesByQueue['jobs::/']!.length)),
    ).toBeLessThanOrEqual(5);
    await eventually(async () => (await channel.checkQueue('jobs')).messageCount === 0 || undefined, 'acked');
  });

  it('nacks and requeues a failed batch, which succeeds when it comes back redelivered', async () => {
    channel.sendToQueue('jobs', Buffer.from('{"fail":true,"n":1}'), { messageId: 'flaky' });
    await eventually(
      () =>
        messages('worker').filter((m) => m.basicProperties.messageId === 'flaky').length >= 2 || undefined,
      'the flaky message twice',
    );
    const deliveries = messages('worker').filter((m) => m.basicProperties.messageId === 'flaky');
    expect(deliveries.map((m) => m.redelivered)).toEqual([false, true]);
  });

  it('invokes only for messages whose decoded data matches, and acks the rest', async () => {
    channel.sendToQueue('picky', Buffer.from('{"type":"keep","n":1}'));
    channel.sendToQueue('picky', Buffer.from('{"type":"drop","n":2}'));
    channel.sendToQueue('picky', Buffer.from('plain text, not JSON'));
    // Not UTF-8: Lambda filters it on metadata alone, and this filter has no metadata field, so it passes.
    channel.sendToQueue('picky', Buffer.from([0xff, 0xfe, 0x00]));
    channel.sendToQueue('picky', Buffer.from('{"type":"keep","n":3}'));
    await eventually(() => messages('picky').length >= 3 || undefined, 'the three kept');
    await eventually(
      async () => (await channel.checkQueue('picky')).messageCount === 0 || undefined,
      'all acked',
    );
    expect(messages('picky').map((m) => m.data)).toEqual(
      ['{"type":"keep","n":1}', Buffer.from([0xff, 0xfe, 0x00]), '{"type":"keep","n":3}'].map((d) =>
        Buffer.from(d).toString('base64'),
      ),
    );
  });

  it("locally reads a secretRef from the gateway's environment, and names the variable when it is unset", async () => {
    channel.sendToQueue('from-env', Buffer.from('{"env":1}'));
    await eventually(
      () =>
        messages('envworker').some((m) => m.data === Buffer.from('{"env":1}').toString('base64')) ||
        undefined,
      'the message through the env-configured mapping',
    );
    const lambda = lambdaClient(serval.url);
    const unset = await eventually(async () => {
      const m = await lambda.send(
        new GetEventSourceMappingCommand({ UUID: manifestMappingUuid('default', 'unset') }),
      );
      return m.LastProcessingResult?.startsWith('PROBLEM: Connection error. The credentials') ? m : undefined;
    }, 'the unset secret on the status');
    expect(unset.State).toBe('Enabled');
    expect(serval.gatewayLog().join('\n')).toContain('set SERVAL_SECRET_NOPE_URL in the gateway');
    expect(serval.gatewayLog().join('\n')).not.toContain(broker.url);
    lambda.destroy();
  });

  it('recovers by itself after the broker restarts, and its status showed the outage', async () => {
    const lambda = lambdaClient(serval.url);
    const uuid = manifestMappingUuid('default', 'jobs');
    await connection.close().catch(() => undefined);
    await broker.stop();
    await eventually(
      async () => {
        const m = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
        return m.LastProcessingResult?.startsWith('PROBLEM: Connection') || undefined;
      },
      'the outage on the status',
      30_000,
    );
    await broker.start();
    await openPublisher();
    channel.sendToQueue('jobs', Buffer.from('{"after":"restart"}'), {
      messageId: 'after-restart',
      persistent: true,
    });
    await eventually(
      () => messages('worker').some((m) => m.basicProperties.messageId === 'after-restart') || undefined,
      'a message after the restart',
      90_000,
    );
    lambda.destroy();
  });
});
