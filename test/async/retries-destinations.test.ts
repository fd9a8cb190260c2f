// Retries, event age and destinations end to end: a real gateway, real Node functions, a real HTTP endpoint
// and a real nats-server as destinations. Lambda's minutes run at a time scale of 0.005 (1 min = 300 ms).

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationRecord } from '../../gateway/src/async/invocation-record.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { fixture, REPO_ROOT, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

const SCALE = 0.005;

/** Runs the real `serval` command (asynchronously: the gateway it talks to runs in this process). */
async function serval_(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    join(REPO_ROOT, 'bin/serval.mjs'),
    ...args,
  ]);
  return stdout;
}

const ARN = 'arn:serval:lambda:local:default:function';

// NATS is also a destination here, so without nats-server the whole file is skipped (never in CI).
describe.skipIf(!natsAvailable).each(['sqlite', 'nats'] as const)('async invocation on %s', (backend) => {
  let serval: TestServal;
  let sink: HttpSink;
  let nats: TestNats;
  let nc: NatsConnection;
  let records: string;
  const natsMessages: { subject: string; data: string; headers: Record<string, string> }[] = [];

  beforeAll(async () => {
    sink = await startHttpSink();
    nats = await startNats();
    nc = await connect({ servers: nats.url });
    nc.subscribe('results.>', {
      callback: (_err, msg) => {
        const headers: Record<string, string> = {};
        for (const key of msg.headers?.keys() ?? []) headers[key] = msg.headers!.get(key);
        natsMessages.push({ subject: msg.subject, data: msg.string(), headers });
      },
    });
    await nc.flush();
    records = mkdtempSync(join(testDataRoot(), 'async-records-'));
    const fn = (name: string, handler: string, spec: Record<string, unknown>) => ({
      name,
      runtime: 'nodejs24.x',
      handler: `index.${handler}`,
      codePath: fixture('node', 'async'),
      environment: { RECORD_DIR: records },
      spec,
    });
    const http = (path: string) => ({ http: { url: `${sink.url}${path}` } });
    serval = await startServal({
      config: {
        asyncTimeScale: SCALE,
        queueBackend: backend,
        natsUrl: nats.url,
        natsAckWaitSeconds: 5,
        localSharedDirs: [records], // the functions record their calls there (docs/security.md)
      },
      functions: [
        fn('retry-two', 'flaky', {
          async: {
            maximumRetryAttempts: 2,
            destinations: { onSuccess: http('/retry-two/ok'), onFailure: http('/retry-two/failed') },
          },
        }),
        fn('retry-one', 'flaky', {
          async: {
            maximumRetryAttempts: 1,
            destinations: { onFailure: http('/retry-one/failed') },
            deadLetter: { nats: { subject: 'results.dlq' } },
          },
        }),
        fn('too-old', 'flaky', {
          async: {
            maximumEventAgeSeconds: 60,
            destinations: { onFailure: { nats: { subject: 'results.too-old' } } },
          },
        }),
        fn('to-function', 'flaky', { async: { destinations: { onSuccess: { function: 'collector' } } } }),
        fn('collector', 'collect', {}),
        fn('one-at-a-time', 'flaky', {
          reservedConcurrency: 1,
          async: { destinations: { onSuccess: http('/one-at-a-time/ok') } },
        }),
        fn('disabled', 'flaky', {
          reservedConcurrency: 0,
          async: { destinations: { onFailure: http('/disabled/failed') } },
        }),
        fn('no-target', 'flaky', { async: { maximumRetryAttempts: 0 } }),
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await serval?.stop();
    await nc?.close();
    await nats?.stop();
    await sink?.close();
    rmSync(records, { recursive: true, force: true });
  });

  async function sendEvent(fn: string, payload: unknown): Promise<string> {
    const res = await serval.invoke(fn, payload, { 'X-Amz-Invocation-Type': 'Event' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    return res.headers.get('x-amzn-requestid')!;
  }

  function attempts(id: string): number {
    try {
      return readFileSync(join(records, id), 'utf8').length;
    } catch {
      return 0;
    }
  }

  async function natsMessage(subject: string, requestId: string) {
    const until = Date.now() + 20_000;
    for (;;) {
      const found = natsMessages.find(
        (m) => (m.subject === subject && m.data.includes(requestId)) || m.headers.RequestID === requestId,
      );
      if (found && found.subject === subject) return found;
      if (Date.now() > until) throw new Error(`no message on ${subject} for ${requestId}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('retries a function error twice and succeeds on the third attempt', async () => {
    const id = `${backend}-third-time`;
    const payload = { id, failures: 2 };
    const requestId = await sendEvent('retry-two', payload);
    const [delivered] = await sink.waitFor('/retry-two/ok');
    expect(attempts(id)).toBe(3);
    const record = JSON.parse(delivered!.body) as InvocationRecord;
    expect(Object.keys(record).sort()).toEqual([
      'requestContext',
      'requestPayload',
      'responseContext',
      'responsePayload',
      'timestamp',
      'version',
    ]);
    expect(record.version).toBe('1.0');
    expect(new Date(record.timestamp).toISOString()).toBe(record.timestamp);
    expect(record.requestContext).toEqual({
      requestId,
      functionArn: `${ARN}:retry-two:$LATEST`,
      condition: 'Success',
      approximateInvokeCount: 3,
    });
    expect(record.requestPayload).toEqual(payload);
    // functionError is absent on success.
    expect(record.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(record.responsePayload).toEqual({ id, attempt: 3 });
    expect(delivered!.headers['content-type']).toBe('application/json');
    expect(sink.requests.filter((r) => r.path === '/retry-two/failed')).toHaveLength(0);
  });

  it('with one retry, a twice-failing event reaches the failure destination after two invocations', async () => {
    const id = `${backend}-exhausted`;
    const payload = { id, failures: 5 };
    const requestId = await sendEvent('retry-one', payload);
    const [delivered] = await sink.waitFor('/retry-one/failed');
    const record = JSON.parse(delivered!.body) as InvocationRecord;
    expect(record.requestContext).toEqual({
      requestId,
      functionArn: `${ARN}:retry-one:$LATEST`,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 2,
    });
    expect(record.requestPayload).toEqual(payload);
    expect(record.responseContext).toEqual({
      statusCode: 200,
      executedVersion: '$LATEST',
      functionError: 'Unhandled',
    });
    expect(record.responsePayload).toMatchObject({ errorType: 'Error', errorMessage: 'attempt 2 fails' });
    expect(attempts(id)).toBe(2);

    // The dead-letter target gets the original event and Lambda's DLQ attributes.
    const letter = await natsMessage('results.dlq', requestId);
    expect(JSON.parse(letter.data)).toEqual(payload);
    expect(letter.headers).toMatchObject({
      RequestID: requestId,
      ErrorCode: '200',
      ErrorMessage: 'attempt 2 fails',
    });
  });

  it('an event older than its maximum age goes to the failure destination as EventAgeExceeded', async () => {
    const id = `${backend}-too-old`;
    // The first attempt fails; the retry is due a scaled minute later, when the event is past its scaled 60 s.
    const requestId = await sendEvent('too-old', { id, failures: 5 });
    const message = await natsMessage('results.too-old', requestId);
    const record = JSON.parse(message.data) as InvocationRecord;
    expect(record.requestContext).toEqual({
      requestId,
      functionArn: `${ARN}:too-old:$LATEST`,
      condition: 'EventAgeExceeded',
      approximateInvokeCount: 1,
    });
    expect(record.responseContext.functionError).toBe('Unhandled');
    expect(attempts(id)).toBe(1);
  });

  it('a function destination receives the record as its event', async () => {
    const id = `${backend}-to-function`;
    const requestId = await sendEvent('to-function', { id });
    const until = Date.now() + 20_000;
    let collected: InvocationRecord | undefined;
    while (!collected && Date.now() < until) {
      const file = join(records, 'collected.jsonl');
      const lines = readdirSync(records).includes('collected.jsonl')
        ? readFileSync(file, 'utf8').trim().split('\n')
        : [];
      collected = lines
        .map((l) => JSON.parse(l) as InvocationRecord)
        .find((r) => r.requestContext.requestId === requestId);
      if (!collected) await new Promise((r) => setTimeout(r, 50));
    }
    expect(collected?.requestContext.condition).toBe('Success');
    expect(collected?.responsePayload).toEqual({ id, attempt: 1 });
  });

  it('throttles are retried with backoff and do not spend the retry budget', async () => {
    // A synchronous call holds the only unit; the async event is throttled until it ends.
    const hold = serval.invoke('one-at-a-time', { id: `${backend}-holder`, holdMs: 1500 });
    await new Promise((r) => setTimeout(r, 300));
    const requestId = await sendEvent('one-at-a-time', { id: `${backend}-throttled` });
    expect((await hold).status).toBe(200);
    const [delivered] = await sink.waitFor('/one-at-a-time/ok');
    const record = JSON.parse(delivered!.body) as InvocationRecord;
    expect(record.requestContext.requestId).toBe(requestId);
    expect(record.requestContext.approximateInvokeCount).toBe(1);
    expect(attempts(`${backend}-throttled`)).toBe(1);
  });

  it('reserved concurrency 0 sends events straight to the failure destination', async () => {
    const requestId = await sendEvent('disabled', { id: `${backend}-disabled` });
    const [delivered] = await sink.waitFor('/disabled/failed');
    const record = JSON.parse(delivered!.body) as InvocationRecord;
    expect(record.requestContext).toMatchObject({
      requestId,
      condition: 'RetriesExhausted',
      approximateInvokeCount: 0,
    });
    expect(record.responseContext).toEqual({ statusCode: 429 });
    expect(record.responsePayload).toMatchObject({ errorType: 'TooManyRequestsException' });
    expect(attempts(`${backend}-disabled`)).toBe(0);
  });

  it('keeps an event no target takes as a dead letter that operators can list and redrive', async () => {
    const id = `${backend}-kept`;
    const requestId = await sendEvent('no-target', { id, failures: 1 });
    let letters: { id: string; requestId: string; condition: string; lastError: { errorMessage: string } }[] =
      [];
    const until = Date.now() + 20_000;
    while (letters.length === 0 && Date.now() < until) {
      const res = await fetch(`${serval.url}/serval/v1/async/dead-letters?function=no-target`);
      letters = ((await res.json()) as { deadLetters: typeof letters }).deadLetters;
      if (letters.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({
      requestId,
      condition: 'RetriesExhausted',
      lastError: { errorMessage: 'attempt 1 fails' },
    });
    const stats = (await (await fetch(`${serval.url}/serval/v1/async/stats`)).json()) as Record<
      string,
      unknown
    >;
    expect(stats).toMatchObject({ backend, deadLetters: 1 });

    // The operator's commands: list shows it, redrive puts it back, and this time the function succeeds.
    const listed = await serval_([
      'queue',
      'dead-letters',
      '--function',
      'no-target',
      '--endpoint',
      serval.url,
    ]);
    expect(listed).toContain(requestId);
    expect(listed).toContain('attempt 1 fails');
    const stats2 = await serval_(['queue', 'stats', '--endpoint', serval.url]);
    expect(stats2).toMatch(/dead letters\s+1/);
    expect(await serval_(['queue', 'redrive', '--id', letters[0]!.id, '--endpoint', serval.url])).toContain(
      'redrove 1',
    );
    const waitUntil = Date.now() + 20_000;
    while (attempts(id) < 2 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
    expect(attempts(id)).toBe(2);
    expect(
      await serval_(['queue', 'dead-letters', '--function', 'no-target', '--endpoint', serval.url]),
    ).toContain('no dead letters');
  });

  it('answers the InvokeAsync route with 202 and refuses payloads over 1 MB', async () => {
    const res = await fetch(`${serval.url}/2014-11-13/functions/collector/invoke-async/`, {
      method: 'POST',
      body: JSON.stringify({ webhook: true }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ Status: 202 });
    const big = await serval.invoke('collector', JSON.stringify({ x: 'y'.repeat(1024 * 1024) }), {
      'X-Amz-Invocation-Type': 'Event',
    });
    expect(big.status).toBe(413);
    expect(big.json()).toMatchObject({ Type: 'User' });
    expect(big.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');
  });
});

mkdirSync(testDataRoot(), { recursive: true });
