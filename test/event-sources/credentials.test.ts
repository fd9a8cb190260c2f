// Mapping credentials in local mode, against the real servers: SQS keys from a `credentialsSecretRef` read from
// the gateway's environment (SERVAL_SECRET_<NAME>_<KEY>) or, without one, the gateway's AWS_* keys, checked by
// a SigV4-verifying proxy in front of ElasticMQ (which accepts any); keys the endpoint refuses and keys that are
// not set shown on the mapping's status by where they came from, never by value; and a NATS URL with a login
// read from a secretRef against a nats-server that requires it.
import { GetEventSourceMappingCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestMappingUuid } from '../../gateway/src/event-sources/catalog.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { startServal, type TestServal } from '../support/serval.ts';
import { type SqsAuthProxy, startSqsAuthProxy } from '../support/sqs-auth-proxy.ts';
import { sqsServerAvailable, startSqsServer, type TestSqsServer } from '../support/sqs-server.ts';
import {
  batchesOf,
  createQueue,
  eventually,
  lambdaClient,
  mappingDoc,
  type Queue,
  RECORDER,
  sendAll,
} from './sqs-support.ts';

const ENV_KEY = { id: 'AKIDGATEWAYENV', secret: 'gateway-env-secret' };
const SECRET_KEY = { id: 'AKIDFROMSECRET', secret: 'from-secret-secret' };
const REVOKED_KEY = { id: 'AKIDREVOKEDLATER', secret: 'revoked-later-secret' };
const SESSION_TOKEN = 'session-token-from-secret';
const WRONG_SECRET = 'not-the-right-secret';

const recorder = (name: string, sink: HttpSink) => ({
  name,
  runtime: 'nodejs24.x',
  handler: 'index.handler',
  inline: { 'index.mjs': RECORDER },
  environment: { SINK: sink.url },
});

async function mappingResult(lambda: LambdaClient, name: string, starts: string): Promise<string> {
  return eventually(async () => {
    const m = await lambda.send(
      new GetEventSourceMappingCommand({ UUID: manifestMappingUuid('default', name) }),
    );
    return m.LastProcessingResult?.startsWith(starts) ? m.LastProcessingResult : undefined;
  }, `${name}: ${starts}`);
}

describe.skipIf(!sqsServerAvailable)('SQS mapping credentials (local mode)', () => {
  let server: TestSqsServer;
  let proxy: SqsAuthProxy;
  let sqs: SQSClient;
  let sink: HttpSink;
  let serval: TestServal;
  let lambda: LambdaClient;
  const queues: Record<string, Queue> = {};

  beforeAll(async () => {
    server = await startSqsServer({ persistent: false });
    sqs = server.client();
    proxy = await startSqsAuthProxy(server.endpoint, {
      [ENV_KEY.id]: ENV_KEY.secret,
      [SECRET_KEY.id]: SECRET_KEY.secret,
      [REVOKED_KEY.id]: REVOKED_KEY.secret,
    });
    for (const q of ['keyed', 'ambient', 'refused', 'unset', 'revoked'])
      queues[q] = await createQueue(sqs, `cred-${q}`);
    sink = await startHttpSink();
    const source = (q: string, secret?: string) => ({
      sqs: {
        queueUrl: proxy.via(queues[q]!.url),
        ...(secret ? { credentialsSecretRef: { name: secret } } : {}),
      },
    });
    serval = await startServal({
      config: { localIsolation: 'off' },
      env: {
        AWS_ACCESS_KEY_ID: ENV_KEY.id,
        AWS_SECRET_ACCESS_KEY: ENV_KEY.secret,
        // credentialsSecretRef {name: sqs-keys}: its three keys
        SERVAL_SECRET_SQS_KEYS_ACCESSKEYID: SECRET_KEY.id,
        SERVAL_SECRET_SQS_KEYS_SECRETACCESSKEY: SECRET_KEY.secret,
        SERVAL_SECRET_SQS_KEYS_SESSIONTOKEN: SESSION_TOKEN,
        SERVAL_SECRET_SQS_WRONG_ACCESSKEYID: SECRET_KEY.id,
        SERVAL_SECRET_SQS_WRONG_SECRETACCESSKEY: WRONG_SECRET,
        // sqs-half has no secretAccessKey
        SERVAL_SECRET_SQS_HALF_ACCESSKEYID: SECRET_KEY.id,
        SERVAL_SECRET_SQS_REVOKED_ACCESSKEYID: REVOKED_KEY.id,
        SERVAL_SECRET_SQS_REVOKED_SECRETACCESSKEY: REVOKED_KEY.secret,
      },
      functions: [
        recorder('keyed', sink),
        recorder('ambient', sink),
        recorder('refused', sink),
        recorder('revoked', sink),
      ],
      documents: [
        mappingDoc('keyed', { functionName: 'keyed', source: source('keyed', 'sqs-keys') }),
        mappingDoc('ambient', { functionName: 'ambient', source: source('ambient') }),
        mappingDoc('refused', { functionName: 'refused', source: source('refused', 'sqs-wrong') }),
        mappingDoc('unset', { functionName: 'refused', source: source('unset', 'sqs-half') }),
        mappingDoc('revoked', { functionName: 'revoked', source: source('revoked', 'sqs-revoked') }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
    lambda = lambdaClient(serval.url);
  }, 180_000);

  afterAll(async () => {
    lambda?.destroy();
    await serval?.stop();
    await proxy?.close();
    await sink?.close();
    await server?.close();
  });

  /** Resolves once function `fn` was invoked with a record whose body is `body`. */
  const delivered = (fn: string, body: string, what: string) =>
    eventually(() => batchesOf(sink, fn).some((b) => b.some((r) => r.body === body)) || undefined, what);
  const signedFor = (q: string) =>
    proxy.accepted.filter((r) => r.queueUrl === proxy.via(queues[q]!.url)).map((r) => r.accessKeyId);

  it("signs with the keys of the mapping's credentialsSecretRef, session token included", async () => {
    await sendAll(sqs, queues.keyed!, [{ MessageBody: '{"keyed":1}' }]);
    await delivered('keyed', '{"keyed":1}', 'the message delivered');
    // Delivered means received and deleted through the proxy, each call signed with the Secret's key.
    expect(new Set(signedFor('keyed'))).toEqual(new Set([SECRET_KEY.id]));
    const keyed = proxy.accepted.filter((r) => r.queueUrl === proxy.via(queues.keyed!.url));
    expect(keyed.every((r) => r.sessionToken === SESSION_TOKEN)).toBe(true);
    await mappingResult(lambda, 'keyed', 'OK');
  });

  it("falls back to the gateway's own AWS keys without a credentialsSecretRef", async () => {
    await sendAll(sqs, queues.ambient!, [{ MessageBody: '{"ambient":1}' }]);
    await delivered('ambient', '{"ambient":1}', 'the message delivered');
    expect(new Set(signedFor('ambient'))).toEqual(new Set([ENV_KEY.id]));
  });

  it('keys the endpoint refuses are a status problem naming the Secret, and the message stays queued', async () => {
    await sendAll(sqs, queues.refused!, [{ MessageBody: '{"refused":1}' }]);
    const result = await mappingResult(lambda, 'refused', 'PROBLEM: Connection error');
    expect(result).toBe('PROBLEM: Connection error. The event source refused the credentials.');
    expect(proxy.refused).toContain('SignatureDoesNotMatch');
    const log = serval.gatewayLog().join('\n');
    expect(log).toContain(
      'refused its credentials: the keys in Secret default/sqs-wrong (SignatureDoesNotMatch)',
    );
    expect(log).not.toContain(WRONG_SECRET);
    expect(batchesOf(sink, 'refused')).toEqual([]);
    // The gateway carries on: the other mappings still deliver.
    await sendAll(sqs, queues.keyed!, [{ MessageBody: '{"keyed":2}' }]);
    await delivered('keyed', '{"keyed":2}', 'the healthy mapping still delivering');
  });

  it('keys revoked while the mapping polls are a credentials problem from the first refused receive', async () => {
    await sendAll(sqs, queues.revoked!, [{ MessageBody: '{"revoked":1}' }]);
    await delivered('revoked', '{"revoked":1}', 'delivered before the revocation');
    proxy.keys.delete(REVOKED_KEY.id);
    const result = await mappingResult(lambda, 'revoked', 'PROBLEM: Connection error');
    expect(result).toBe('PROBLEM: Connection error. The event source refused the credentials.');
    const uuid = manifestMappingUuid('default', 'revoked');
    const lines = serval.gatewayLog().filter((l) => l.includes(uuid));
    expect(lines.join('\n')).toContain('the keys in Secret default/sqs-revoked (InvalidClientTokenId)');
    // Never shown as an outage first: the refused receive itself is named as refused keys.
    expect(lines.filter((l) => l.includes('unreachable'))).toEqual([]);
  });

  it('a Secret without a required key is a status problem naming the variable to set', async () => {
    const result = await mappingResult(lambda, 'unset', 'PROBLEM: Connection error');
    expect(result).toBe('PROBLEM: Connection error. The credentials of the event source could not be read.');
    expect(serval.gatewayLog().join('\n')).toContain(
      'secret sqs-half key secretAccessKey: set SERVAL_SECRET_SQS_HALF_SECRETACCESSKEY',
    );
  });
});

describe.skipIf(!natsAvailable)('NATS mapping credentials (local mode)', () => {
  const USER = 'esm';
  const PASS = 'nats-pass-123';
  let nats: TestNats;
  let nc: NatsConnection;
  let sink: HttpSink;
  let serval: TestServal;
  let lambda: LambdaClient;

  beforeAll(async () => {
    nats = await startNats({ args: ['--user', USER, '--pass', PASS] });
    const port = new URL(nats.url).port;
    nc = await connect({ servers: nats.url, user: USER, pass: PASS });
    await (await jetstreamManager(nc)).streams.add({ name: 'LOGIN', subjects: ['login.>'] });
    sink = await startHttpSink();
    serval = await startServal({
      config: { localIsolation: 'off' },
      env: {
        SERVAL_SECRET_NATS_LOGIN_URL: `nats://${USER}:${PASS}@127.0.0.1:${port}`,
        SERVAL_SECRET_NATS_BAD_URL: `nats://${USER}:wrong-pass@127.0.0.1:${port}`,
      },
      functions: [
        {
          name: 'natsfn',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: {
            'index.mjs': `export const handler = async (event) => {
              await fetch(process.env.SINK + '/nats', { method: 'POST', body: JSON.stringify(event) });
            };`,
          },
          environment: { SINK: sink.url },
        },
      ],
      documents: [
        mappingDoc('login', {
          functionName: 'natsfn',
          source: { nats: { secretRef: { name: 'nats-login' }, subject: 'login.ok', stream: 'LOGIN' } },
          maximumBatchingWindowSeconds: 0,
        }),
        mappingDoc('badlogin', {
          functionName: 'natsfn',
          source: { nats: { secretRef: { name: 'nats-bad' }, subject: 'login.bad', stream: 'LOGIN' } },
        }),
      ],
    });
    expect(serval.loaded.problems).toEqual([]);
    lambda = lambdaClient(serval.url);
  }, 120_000);

  afterAll(async () => {
    lambda?.destroy();
    await serval?.stop();
    await nc?.close();
    await sink?.close();
    await nats?.stop();
  });

  it('connects with the user and password of a URL read from a secretRef', async () => {
    await jetstream(nc).publish('login.ok', '{"hello":"nats"}');
    await eventually(
      () =>
        sink.requests.some(
          (r) =>
            r.path === '/nats' &&
            (JSON.parse(r.body) as { Records: Array<{ nats: { data: string } }> }).Records.some(
              (rec) => Buffer.from(rec.nats.data, 'base64').toString() === '{"hello":"nats"}',
            ),
        ) || undefined,
      'the message delivered',
    );
  });

  it('a refused login is a status problem naming the Secret, never the password', async () => {
    const result = await mappingResult(lambda, 'badlogin', 'PROBLEM: Connection error');
    expect(result).toBe('PROBLEM: Connection error. The event source refused the credentials.');
    const log = serval.gatewayLog().join('\n');
    expect(log).toContain('the URL in Secret default/nats-bad (authorization violation)');
    expect(log).not.toContain('wrong-pass');
    expect(log).not.toContain(PASS);
  });
});
