// A loop through a queue: a function that sends a message to the queue that triggers it, with the unmodified
// SDK v3. The SDK passes the function's trace header to SQS, which keeps it as the message's AWSTraceHeader
// (ElasticMQ does the same), so the mapping's next invocation continues the chain and the 17th run is
// stopped. The stopped batch fails like any other: the queue's redrive policy moves the message aside.
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { inlineNode, startServal, type TestServal } from '../support/serval.ts';
import {
  SQS_CREDENTIALS,
  sqsServerAvailable,
  startSqsServer,
  type TestSqsServer,
} from '../support/sqs-server.ts';
import { createQueue, eventually, mappingDoc, type Queue } from './sqs-support.ts';

const ECHO_LOOP = `
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
const sqs = new SQSClient({
  endpoint: process.env.SQS_ENDPOINT,
  region: 'elasticmq',
  credentials: { accessKeyId: 'serval-test', secretAccessKey: 'serval-test' },
});
export const handler = async (event) => {
  for (const record of event.Records) {
    const hop = Number(record.body) + 1;
    await fetch(process.env.SINK + '/hop', { method: 'POST', body: String(hop) });
    await sqs.send(new SendMessageCommand({ QueueUrl: process.env.QUEUE_URL, MessageBody: String(hop) }));
  }
  return {};
};
`;

describe.skipIf(!sqsServerAvailable)('recursive loops through an SQS queue', () => {
  let server: TestSqsServer;
  let sqs: SQSClient;
  let sink: HttpSink;
  let serval: TestServal;
  let queue: Queue;
  let dlq: Queue;

  beforeAll(async () => {
    server = await startSqsServer();
    sqs = server.client();
    sink = await startHttpSink();
    dlq = await createQueue(sqs, 'loop-dlq');
    queue = await createQueue(sqs, 'loop', {
      visibilitySeconds: 5,
      deadLetter: { arn: dlq.arn, maxReceiveCount: 2 },
    });
    serval = await startServal({
      // The function reaches ElasticMQ and the sink on the host's loopback, which a sandbox would hide.
      config: { localIsolation: 'off' },
      env: {
        AWS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
      },
      functions: [
        inlineNode('echo-loop', ECHO_LOOP, {
          timeoutSeconds: 30,
          environment: { SQS_ENDPOINT: server.endpoint, QUEUE_URL: queue.url, SINK: sink.url },
        }),
      ],
      documents: [
        mappingDoc('loop', { functionName: 'echo-loop', source: { sqs: { queueUrl: queue.url } } }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    await serval?.stop();
    await server?.stop();
    await sink?.close();
  });

  it("stops after 16 runs and the message goes to the queue's dead-letter queue", async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.url, MessageBody: '0' }));
    const parked = await eventually(
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: dlq.url,
            MessageSystemAttributeNames: ['All'],
            WaitTimeSeconds: 1,
          }),
        );
        return out.Messages?.[0];
      },
      'the stopped message in the dead-letter queue',
      90_000,
    );
    expect(parked!.Body).toBe('16');
    expect(parked!.Attributes?.AWSTraceHeader).toMatch(/Lineage=[0-9a-f]{8}:16/);
    const hops = sink.requests.filter((r) => r.path === '/hop').map((r) => Number(r.body));
    // At-least-once delivery may run a hop twice on a slow machine; no run goes past the 16th.
    expect([...new Set(hops)].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(serval.gatewayLog().join('\n')).toMatch(/recursive loop stopped: function default\/echo-loop/);
  }, 120_000);
});
