// Event source mappings on a real kube-apiserver: broker credentials read from a Secret in the mapping's
// namespace under the chart's RBAC (a RabbitMQ user the test creates with rabbitmqctl), a missing Secret
// shown on the status by name and picked up once it exists, SQS access keys from a Secret (checked by a
// SigV4-verifying proxy in front of ElasticMQ) whose missing key, refused value and rotation the status
// follows, and the mapping API creating, updating and deleting the EventSourceMapping resource so that
// kubectl and the API show one truth.
import { randomBytes } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createQueue, type Queue, sendAll } from '../event-sources/sqs-support.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { rabbitmqAvailable, startRabbitMq, type TestRabbitMq } from '../support/rabbitmq.ts';
import { type SqsAuthProxy, startSqsAuthProxy } from '../support/sqs-auth-proxy.ts';
import { sqsServerAvailable, startSqsServer, type TestSqsServer } from '../support/sqs-server.ts';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'esm-sec';
const GATEWAY_SA = 'system:serviceaccount:serval-system:serval-gateway';
const USER = 'esm-user';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

describe.skipIf(!rigAvailable || !rabbitmqAvailable)('event source mappings on Kubernetes', () => {
  let rig: ServalRig;
  let broker: TestRabbitMq;
  let sink: HttpSink;
  let connection: ChannelModel;
  let channel: Channel;
  const kubectl = (args: string[], input?: string) => rig.kubectl(args, input);
  const json = (args: string[]) => rig.json(args);
  const api = (path: string, init: { method?: string; body?: unknown } = {}) =>
    fetch(`${rig.gateway.url}/2015-03-31/event-source-mappings/${path}`, {
      method: init.method ?? 'GET',
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
  const brokerUrl = () => `amqp://${USER}:${PASSWORD}@127.0.0.1:${broker.port}/`;
  const secret = (name: string) =>
    stringify({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: NS },
      stringData: { url: brokerUrl() },
    });
  const mapping = (name: string, queue: string, secretName: string) =>
    stringify({
      apiVersion: 'serval.dev/v1alpha1',
      kind: 'EventSourceMapping',
      metadata: { name, namespace: NS },
      spec: {
        functionName: 'mq-worker',
        source: { rabbitmq: { secretRef: { name: secretName }, queue } },
        batchSize: 5,
      },
    });
  const received = (queue: string) =>
    sink.requests
      .filter((r) => r.path === '/mq')
      .flatMap((r) => {
        const e = JSON.parse(r.body) as { rmqMessagesByQueue: Record<string, Array<{ data: string }>> };
        return (e.rmqMessagesByQueue[`${queue}::/`] ?? []).map((m) =>
          Buffer.from(m.data, 'base64').toString(),
        );
      });
  const condition = (o: { status?: { conditions?: Condition[] } }, type: string) =>
    o.status?.conditions?.find((c) => c.type === type);

  beforeAll(async () => {
    broker = await startRabbitMq();
    // guest may log in from loopback only; the mapping uses a user of its own, known only to the Secret.
    broker.ctl(['add_user', USER, PASSWORD]);
    broker.ctl(['set_permissions', '-p', '/', USER, '.*', '.*', '.*']);
    connection = await amqp.connect(broker.url);
    channel = await connection.createChannel();
    for (const q of ['jobs', 'late', 'api-jobs']) await channel.assertQueue(q, { durable: true });
    sink = await startHttpSink();
    rig = await startServalRig([NS], { helmValues: [`gateway.eventSourceSecrets.namespaces={${NS}}`] });
    await kubectl(
      ['apply', '-f', '-'],
      functionManifest(
        NS,
        'mq-worker',
        `export const handler = async (event) => {
          await fetch('${sink.url}/mq', { method: 'POST', body: JSON.stringify(event) });
          return {};
        };`,
      ),
    );
    await rig.until(
      'mq-worker known to the gateway',
      async () => {
        const r = await rig.invoke(NS, 'mq-worker', { rmqMessagesByQueue: {} });
        return r.status === 200 ? r : undefined;
      },
      120_000,
    );
  }, 300_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await rig?.stop();
    await sink?.close();
    await broker?.close();
  });

  it('the chart lets the gateway get Secrets in the listed namespace only, never list them', async () => {
    const can = async (...args: string[]) =>
      (await rig.cluster.kubectl(['auth', 'can-i', ...args, `--as=${GATEWAY_SA}`])).stdout.trim();
    expect(await can('get', 'secrets', '-n', NS)).toBe('yes');
    expect(await can('list', 'secrets', '-n', NS)).toBe('no');
    expect(await can('watch', 'secrets', '-n', NS)).toBe('no');
    expect(await can('get', 'secrets', '-n', 'serval-system')).toBe('no');
    expect(await can('get', 'secrets', '--all-namespaces')).toBe('no');
  });

  it('connects with the broker URL from a Secret, and never shows or logs its password', async () => {
    await kubectl(['apply', '-f', '-'], secret('mq-credentials'));
    await kubectl(['apply', '-f', '-'], mapping('jobs', 'jobs', 'mq-credentials'));
    channel.sendToQueue('jobs', Buffer.from('{"job":1}'));
    await rig.until('the message delivered', async () => received('jobs').includes('{"job":1}'), 120_000);
    const esm = await rig.until('the mapping connected', async () => {
      const o = await json(['get', 'esm', 'jobs', '-n', NS]);
      return condition(o, 'SourceConnected')?.status === 'True' && o.status.lastProcessingResult === 'OK'
        ? o
        : undefined;
    });
    expect(JSON.stringify(esm)).not.toContain(PASSWORD);
    const listed = await (await api(`?FunctionName=${NS}:function:mq-worker`)).text();
    expect(listed).toContain('"URI":"mq-credentials"');
    expect(listed).not.toContain(PASSWORD);
    expect(rig.log.join('\n')).not.toContain(PASSWORD);
  });

  it('a missing Secret is a status condition naming it, not a crash, and is read once it exists', async () => {
    await kubectl(['apply', '-f', '-'], mapping('late', 'late', 'late-credentials'));
    const waiting = await rig.until('the missing Secret on the status', async () => {
      const o = await json(['get', 'esm', 'late', '-n', NS]);
      // Both conditions: a status written between the two (under load) holds only the first.
      return condition(o, 'SourceConnected')?.status === 'False' && condition(o, 'Ready') ? o : undefined;
    });
    expect(condition(waiting, 'SourceConnected')).toMatchObject({
      reason: 'CredentialsUnavailable',
      message: expect.stringContaining(`Secret ${NS}/late-credentials not found`),
    });
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'CredentialsUnavailable' });
    expect(waiting.status.lastProcessingResult).toMatch(/^PROBLEM: Connection error/);
    const events = await json(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=late']);
    expect(events.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'Warning', reason: 'CredentialsUnavailable' }),
      ]),
    );
    // The gateway carries on serving.
    expect((await rig.invoke(NS, 'mq-worker', { rmqMessagesByQueue: {} })).status).toBe(200);

    // Created later, the Secret is read on the next reconnect attempt (backoff at most 30 s).
    await kubectl(['apply', '-f', '-'], secret('late-credentials'));
    channel.sendToQueue('late', Buffer.from('{"late":true}'));
    await rig.until(
      'the late mapping delivering',
      async () => received('late').includes('{"late":true}'),
      120_000,
    );
    const connected = await rig.until('connected', async () => {
      const o = await json(['get', 'esm', 'late', '-n', NS]);
      return condition(o, 'SourceConnected')?.status === 'True' ? o : undefined;
    });
    expect(condition(connected, 'Ready')).toMatchObject({ status: 'True', reason: 'Polling' });
  }, 180_000);

  describe.skipIf(!sqsServerAvailable)('SQS keys from a Secret', () => {
    const KEY_ID = 'AKIDCLUSTERSECRET';
    const KEY_SECRET = `sk-${randomBytes(12).toString('hex')}`;
    const WRONG = `wrong-${randomBytes(12).toString('hex')}`;
    let server: TestSqsServer;
    let proxy: SqsAuthProxy;
    let sqs: SQSClient;
    let queue: Queue;
    const keys = (data: Record<string, string>) =>
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'sqs-keys', namespace: NS },
        stringData: data,
      });
    const sqsBodies = () =>
      sink.requests
        .filter((r) => r.path === '/sqs')
        .flatMap((r) =>
          (JSON.parse(r.body) as { Records: Array<{ body: string }> }).Records.map((m) => m.body),
        );

    beforeAll(async () => {
      server = await startSqsServer({ persistent: false });
      sqs = server.client();
      queue = await createQueue(sqs, 'cluster-keyed');
      proxy = await startSqsAuthProxy(server.endpoint, { [KEY_ID]: KEY_SECRET });
      await kubectl(
        ['apply', '-f', '-'],
        functionManifest(
          NS,
          'sqs-worker',
          `export const handler = async (event) => {
            await fetch('${sink.url}/sqs', { method: 'POST', body: JSON.stringify(event) });
            return {};
          };`,
        ),
      );
      await rig.until(
        'sqs-worker known to the gateway',
        async () => {
          const r = await rig.invoke(NS, 'sqs-worker', { Records: [] });
          return r.status === 200 ? r : undefined;
        },
        120_000,
      );
    }, 180_000);

    afterAll(async () => {
      await proxy?.close();
      await server?.close();
    });

    it('a missing key, then refused keys, are status conditions naming the Secret; rotated keys are used on reconnect', async () => {
      const connectedCondition = async (reason: string, readyReason = reason) =>
        rig.until(
          `SourceConnected ${reason}`,
          async () => {
            const o = await json(['get', 'esm', 'sqs-keyed', '-n', NS]);
            const c = condition(o, 'SourceConnected');
            return c?.reason === reason && condition(o, 'Ready')?.reason === readyReason ? o : undefined;
          },
          120_000,
        );
      // No secretAccessKey yet.
      await kubectl(['apply', '-f', '-'], keys({ accessKeyId: KEY_ID }));
      await kubectl(
        ['apply', '-f', '-'],
        stringify({
          apiVersion: 'serval.dev/v1alpha1',
          kind: 'EventSourceMapping',
          metadata: { name: 'sqs-keyed', namespace: NS },
          spec: {
            functionName: 'sqs-worker',
            source: { sqs: { queueUrl: proxy.via(queue.url), credentialsSecretRef: { name: 'sqs-keys' } } },
          },
        }),
      );
      const missing = await connectedCondition('CredentialsUnavailable');
      expect(condition(missing, 'SourceConnected')?.message).toContain(
        `Secret ${NS}/sqs-keys has no key secretAccessKey`,
      );
      await sendAll(sqs, queue, [{ MessageBody: '{"cluster":1}' }]);

      // A secretAccessKey the endpoint refuses.
      await kubectl(['apply', '-f', '-'], keys({ accessKeyId: KEY_ID, secretAccessKey: WRONG }));
      const refused = await connectedCondition('CredentialsRejected');
      expect(condition(refused, 'SourceConnected')?.message).toContain(
        `the keys in Secret ${NS}/sqs-keys (SignatureDoesNotMatch)`,
      );
      expect(refused.status.lastProcessingResult).toBe(
        'PROBLEM: Connection error. The event source refused the credentials.',
      );
      expect(sqsBodies()).toEqual([]);
      // The gateway carries on serving.
      expect((await rig.invoke(NS, 'sqs-worker', { Records: [] })).status).toBe(200);

      // Rotated to the right keys: read again on the next reconnect attempt.
      await kubectl(['apply', '-f', '-'], keys({ accessKeyId: KEY_ID, secretAccessKey: KEY_SECRET }));
      await rig.until('the message delivered', async () => sqsBodies().includes('{"cluster":1}'), 120_000);
      const connected = await connectedCondition('Connected', 'Polling');
      expect(condition(connected, 'Ready')).toMatchObject({ status: 'True', reason: 'Polling' });
      expect(proxy.accepted.some((r) => r.accessKeyId === KEY_ID)).toBe(true);
      const shown = JSON.stringify(connected) + rig.log.join('\n');
      expect(shown).not.toContain(KEY_SECRET);
      expect(shown).not.toContain(WRONG);
      await kubectl(['delete', 'esm', 'sqs-keyed', '-n', NS]);
    }, 420_000);
  });

  it('the mapping API creates, updates and deletes the EventSourceMapping resource', async () => {
    const created = await api('', {
      method: 'POST',
      body: {
        FunctionName: `${NS}:function:mq-worker`,
        EventSourceArn: 'arn:aws:mq:local:000000000000:broker:jobs:b-1',
        Queues: ['api-jobs'],
        SourceAccessConfigurations: [{ Type: 'BASIC_AUTH', URI: 'mq-credentials' }],
        BatchSize: 4,
      },
    });
    expect(created.status).toBe(202);
    const { UUID } = (await created.json()) as { UUID: string };
    const resource = await rig.until('the resource', async () => {
      const list = await json(['get', 'esm', '-n', NS]);
      return (list.items as Array<{ metadata: { uid: string } }>).find((o) => o.metadata.uid === UUID) as
        | { metadata: { name: string }; spec: Record<string, any> }
        | undefined;
    });
    expect(resource.spec).toMatchObject({
      functionName: 'mq-worker',
      batchSize: 4,
      source: { rabbitmq: { secretRef: { name: 'mq-credentials', key: 'url' }, queue: 'api-jobs' } },
    });
    const name = resource.metadata.name;
    channel.sendToQueue('api-jobs', Buffer.from('{"api":1}'));
    await rig.until('delivered by the API-created mapping', async () =>
      received('api-jobs').includes('{"api":1}'),
    );

    // An update through the API changes the resource's spec ...
    const updated = await api(UUID, { method: 'PUT', body: { BatchSize: 7, Enabled: false } });
    expect(updated.status).toBe(202);
    await rig.until('the spec updated', async () => {
      const o = await json(['get', 'esm', name, '-n', NS]);
      return o.spec.batchSize === 7 && o.spec.enabled === false && o.status?.state === 'Disabled'
        ? o
        : undefined;
    });
    // ... and a change made with kubectl is what the API answers.
    await kubectl(['patch', 'esm', name, '-n', NS, '--type=merge', '-p', '{"spec":{"batchSize":3}}']);
    const shown = await rig.until('the API showing the kubectl change', async () => {
      const body = (await (await api(UUID)).json()) as { BatchSize: number; State: string };
      return body.BatchSize === 3 ? body : undefined;
    });
    expect(shown.State).toBe('Disabled');

    const deleted = await api(UUID, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    await rig.until(
      'the resource gone',
      async () => (await rig.cluster.kubectl(['get', 'esm', name, '-n', NS])).code !== 0,
    );
    await rig.until('the API forgetting it', async () => (await api(UUID)).status === 404);
  }, 180_000);
});
