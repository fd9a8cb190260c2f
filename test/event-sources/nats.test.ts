// NATS JetStream mappings against a real nats-server: Serval's Kinesis-style event, acks, partial batch
// failures redelivered after a nak, a poison message terminated at the redelivery limit and sent as Lambda's
// on-failure record, and a broker outage that shows on the status and heals by itself.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { GetEventSourceMappingCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestMappingUuid } from '../../gateway/src/event-sources/catalog.ts';
import { freePort } from '../support/free-port.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { natsAvailable } from '../support/nats.ts';
import { startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import { eventually, lambdaClient, mappingDoc } from './sqs-support.ts';

/** Records each NATS batch at the sink; a message whose data says so fails, or fails until redelivered. */
const NATS_RECORDER = `
export const handler = async (event) => {
  await fetch(process.env.SINK + '/' + process.env.AWS_LAMBDA_FUNCTION_NAME, { method: 'POST', body: JSON.stringify(event) });
  const failures = event.Records.filter((r) => {
    const data = JSON.parse(Buffer.from(r.nats.data, 'base64').toString());
    return data.poison || (data.failOnce && r.nats.deliveryCount === 1);
  });
  return { batchItemFailures: failures.map((r) => ({ itemIdentifier: String(r.nats.sequence) })) };
};
`;

interface Records {
  Records: Array<{
    nats: {
      sequence: number;
      deliveryCount: number;
      data: string;
      subject: string;
      headers: Record<string, string[]>;
    };
    [k: string]: unknown;
  }>;
}

/** A nats-server on a fixed port and store, so a test can stop it and start it again where it was. */
async function restartableNats() {
  const dir = mkdtempSync(join(testDataRoot(), 'nats-esm-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', dir], {
      stdio: 'ignore',
    });
    await eventually(
      async () => {
        const nc = await connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0 });
        await nc.close();
        return true;
      },
      'nats-server to listen',
      15_000,
    );
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    start,
    stop,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!natsAvailable)('NATS JetStream event source mappings', () => {
  let nats: Awaited<ReturnType<typeof restartableNats>>;
  let publisher: NatsConnection;
  let sink: HttpSink;
  let serval: TestServal;
  let lambda: LambdaClient;

  const publish = async (subject: string, data: unknown) => {
    const ack = await jetstream(publisher).publish(subject, JSON.stringify(data));
    return ack.seq;
  };
  const seen = () =>
    sink.requests
      .filter((r) => r.path === '/consumer')
      .flatMap((r) => (JSON.parse(r.body) as Records).Records);

  beforeAll(async () => {
    nats = await restartableNats();
    publisher = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(publisher);
    await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
    sink = await startHttpSink();
    serval = await startServal({
      // The recording functions post to a sink on the host's loopback, which a sandbox would hide.
      config: { localIsolation: 'off' },
      functions: [
        {
          name: 'consumer',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: { 'index.mjs': NATS_RECORDER },
          environment: { SINK: sink.url },
        },
      ],
      documents: [
        mappingDoc('orders', {
          functionName: 'consumer',
          source: { nats: { url: nats.url, subject: 'orders.>', stream: 'ORDERS' } },
          batchSize: 10,
          maximumBatchingWindowSeconds: 0,
          maximumRetryAttempts: 2,
          functionResponseTypes: ['ReportBatchItemFailures'],
          destinationConfig: { onFailure: { http: { url: `${sink.url}/failed` } } },
        }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
    lambda = lambdaClient(serval.url);
  }, 60_000);

  afterAll(async () => {
    lambda?.destroy();
    await serval?.stop();
    await publisher?.close();
    await sink?.close();
    await nats?.close();
  });

  it('delivers the Kinesis-style NATS event and acks what succeeded', async () => {
    const seq = await publish('orders.eu', { id: 1 });
    const record = await eventually(() => seen().find((r) => r.nats.sequence === seq), 'the record');
    expect(record).toMatchObject({
      nats: {
        subject: 'orders.eu',
        stream: 'ORDERS',
        consumer: 'serval-orders',
        sequence: seq,
        deliveryCount: 1,
        headers: {},
        data: Buffer.from('{"id":1}').toString('base64'),
      },
      eventSource: 'serval:nats',
      eventID: `ORDERS:${seq}`,
      eventSourceARN: 'arn:serval:nats:local:default:stream/ORDERS/consumer/serval-orders',
      awsRegion: 'local',
    });
    const jsm = await jetstreamManager(publisher);
    await eventually(async () => {
      const info = await jsm.consumers.info('ORDERS', 'serval-orders');
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 'acked');
  });

  it('naks a reported failure and gets it again; terminates a poison message into the on-failure record', async () => {
    const flaky = await publish('orders.us', { failOnce: true });
    const poison = await publish('orders.us', { poison: true });
    await eventually(
      () => seen().filter((r) => r.nats.sequence === flaky).length === 2 || undefined,
      'flaky twice',
    );
    const [failure] = await sink.waitFor('/failed', 1, 60_000);
    const record = JSON.parse(failure!.body);
    expect(record).toMatchObject({
      requestContext: {
        functionArn: 'arn:serval:lambda:local:default:function:consumer',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      NatsBatchInfo: {
        stream: 'ORDERS',
        consumer: 'serval-orders',
        startSequence: String(poison),
        endSequence: String(poison),
        batchSize: 1,
      },
    });
    // maximumRetryAttempts 2: three deliveries, then JetStream keeps it no more.
    expect(
      seen()
        .filter((r) => r.nats.sequence === poison)
        .map((r) => r.nats.deliveryCount),
    ).toEqual([1, 2, 3]);
  });

  it('shows a broker outage on its status and recovers by itself when the broker is back', async () => {
    const uuid = manifestMappingUuid('default', 'orders');
    await nats.stop();
    const down = await eventually(
      async () => {
        const m = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
        return m.LastProcessingResult?.startsWith('PROBLEM: Connection') ? m : undefined;
      },
      'the outage on the status',
      30_000,
    );
    expect(down.State).toBe('Enabled');
    await nats.start();
    await publisher.close();
    publisher = await connect({ servers: nats.url });
    const after = await publish('orders.eu', { id: 'after the outage' });
    await eventually(
      () => seen().find((r) => r.nats.sequence === after),
      'a record after the outage',
      60_000,
    );
    // The function posts the record before it returns, so the status may lag the sink by a moment.
    await eventually(async () => {
      const up = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
      return up.LastProcessingResult === 'OK' || undefined;
    }, 'LastProcessingResult OK after the outage');
  });
});
