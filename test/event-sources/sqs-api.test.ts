// The mapping's own SQS JSON-protocol client (gateway/src/event-sources/sqs/sqs-api.ts) against the real
// ElasticMQ, behind the SigV4-verifying proxy: signed calls are accepted (with a session token too), errors
// carry SQS's code as the SDK names it (a missing queue, refused keys), and an aborted long poll ends at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsApi, SqsApiError } from '../../gateway/src/event-sources/sqs/sqs-api.ts';
import { type SqsAuthProxy, startSqsAuthProxy } from '../support/sqs-auth-proxy.ts';
import { sqsServerAvailable, startSqsServer, type TestSqsServer } from '../support/sqs-server.ts';
import { createQueue, type Queue, sendAll } from './sqs-support.ts';

const KEY = { accessKeyId: 'AKIDLEAN', secretAccessKey: 'lean-secret', sessionToken: 'lean-token' };

describe.skipIf(!sqsServerAvailable)('SqsApi against ElasticMQ', () => {
  let server: TestSqsServer;
  let proxy: SqsAuthProxy;
  let queue: Queue;
  const api = (identity = KEY) =>
    new SqsApi({ endpoint: proxy.endpoint, region: 'local', identity: async () => identity });

  beforeAll(async () => {
    server = await startSqsServer({ persistent: false });
    queue = await createQueue(server.client(), 'lean');
    proxy = await startSqsAuthProxy(server.endpoint, { [KEY.accessKeyId]: KEY.secretAccessKey });
  }, 180_000);

  afterAll(async () => {
    await proxy?.close();
    await server?.close();
  });

  it('receives and deletes with signed calls', async () => {
    await sendAll(server.client(), queue, [{ MessageBody: 'one' }, { MessageBody: 'two' }]);
    const client = api();
    const queueUrl = proxy.via(queue.url);
    const got: Array<{ Body: string; ReceiptHandle: string; Attributes: Record<string, string> }> = [];
    for (let i = 0; i < 20 && got.length < 2; i++) {
      const { Messages = [] } = await client.call<{ Messages?: typeof got }>('ReceiveMessage', {
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageSystemAttributeNames: ['All'],
      });
      got.push(...Messages);
    }
    expect(got.map((m) => m.Body).sort()).toEqual(['one', 'two']);
    expect(got[0]!.Attributes.ApproximateReceiveCount).toBe('1');
    const deleted = await client.call<{ Successful?: unknown[]; Failed?: unknown[] }>('DeleteMessageBatch', {
      QueueUrl: queueUrl,
      Entries: got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
    });
    expect(deleted.Successful).toHaveLength(2);
    expect(deleted.Failed ?? []).toEqual([]);
    expect(proxy.accepted.at(-1)).toMatchObject({
      accessKeyId: KEY.accessKeyId,
      sessionToken: KEY.sessionToken,
    });
    client.destroy();
  });

  it("answers errors with SQS's code as the error's name", async () => {
    const client = api();
    const missing = await client
      .call('GetQueueAttributes', { QueueUrl: proxy.via(`${queue.url}-gone`), AttributeNames: ['All'] })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(SqsApiError);
    expect((missing as SqsApiError).name).toMatch(/NonExistentQueue|QueueDoesNotExist/);
    expect((missing as SqsApiError).status).toBe(400);
    const refused = await api({ ...KEY, secretAccessKey: 'wrong' })
      .call('ReceiveMessage', { QueueUrl: proxy.via(queue.url) })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    client.destroy();
  });

  it('an aborted long poll rejects at once', async () => {
    const client = api();
    const controller = new AbortController();
    const started = Date.now();
    const polling = client
      .call('ReceiveMessage', { QueueUrl: proxy.via(queue.url), WaitTimeSeconds: 20 }, controller.signal)
      .catch((e: unknown) => e);
    setTimeout(() => controller.abort(new Error('stopped')), 200);
    expect(await polling).toMatchObject({ message: 'stopped' });
    // Well before the 20 s long poll would have ended.
    expect(Date.now() - started).toBeLessThan(15_000);
    client.destroy();
  });
});
