// A RESPONSE_STREAM answer on a real HTTP server and client, fed the chunks an agent would relay: the
// prelude however it is split, and each way it can be malformed.
import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { InvocationResult } from '../../../../apis/environment-link.ts';
import { FunctionUrlStream, HTTP_INTEGRATION_CONTENT_TYPE } from './streaming-answer.ts';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

const result = (outcome: 'success' | 'error', streamedBytes = 1): InvocationResult => ({
  requestId: 'r',
  outcome,
  durationMs: 1,
  billedDurationMs: 1,
  maxMemoryUsedMB: 1,
  logTail: '',
  streamedBytes,
});

/** Serves one request by feeding `chunks` to a FunctionUrlStream; returns what the client received. */
async function answer(
  contentType: string | undefined,
  chunks: Buffer[],
  outcome: 'success' | 'error' = 'success',
) {
  let cancelled = false;
  server = createServer((_req, res) => {
    const stream = new FunctionUrlStream(res, (head) => ({
      ...head,
      headers: [...head.headers, ['x-amzn-requestid', 'r']],
    }));
    stream.start(contentType, () => {
      cancelled = true;
    });
    for (const c of chunks) stream.write(c, () => {});
    stream.finish({ result: result(outcome), body: Buffer.alloc(0) });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const got = await new Promise<{
    status: number;
    headers: Record<string, unknown>;
    body: string;
    complete: boolean;
  }>((resolve) => {
    get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      const done = () =>
        resolve({ status: res.statusCode!, headers: res.headers, body, complete: res.complete });
      res.on('end', done);
      res.on('aborted', done);
      res.on('error', done);
    });
  });
  return { ...got, cancelled };
}

const bytes = (text: string) => [...Buffer.from(text)].map((b) => Buffer.from([b]));
const NUL8 = '\0'.repeat(8);

describe('FunctionUrlStream', () => {
  it('reads a prelude split byte by byte, then passes the body on', async () => {
    const prelude = JSON.stringify({ statusCode: 418, headers: { 'x-a': '1' }, cookies: ['c=1', 'd=2'] });
    const got = await answer(HTTP_INTEGRATION_CONTENT_TYPE, bytes(`${prelude}${NUL8}body bytes`));
    expect(got.status).toBe(418);
    expect(got.headers['x-a']).toBe('1');
    expect(got.headers['set-cookie']).toEqual(['c=1', 'd=2']);
    expect(got.headers['x-amzn-requestid']).toBe('r');
    expect(got).toMatchObject({ body: 'body bytes', complete: true, cancelled: false });
  });

  it('defaults the status to 200 and drops framing headers the function sets', async () => {
    const prelude = JSON.stringify({ headers: { 'content-length': '3', 'transfer-encoding': 'identity' } });
    const got = await answer(HTTP_INTEGRATION_CONTENT_TYPE, [Buffer.from(`${prelude}${NUL8}hello`)]);
    expect(got.status).toBe(200);
    expect(got.headers['transfer-encoding']).toBe('chunked');
    expect(got.body).toBe('hello');
  });

  it.each([
    ['not JSON', `{nope${NUL8}body`],
    ['a 1xx status', `{"statusCode":100}${NUL8}body`],
    ['a header with CR/LF', `{"headers":{"x":"a\\r\\nb: c"}}${NUL8}body`],
    ['cookies that are not a list', `{"cookies":"a=1"}${NUL8}body`],
    ['a prelude without its delimiter past 64 KB', `{"headers":{"x":"${'a'.repeat(70 * 1024)}"}}`],
  ])('answers 502 to a prelude with %s, and stops the relay', async (_what, text) => {
    const got = await answer(HTTP_INTEGRATION_CONTENT_TYPE, [Buffer.from(text)]);
    expect(got).toMatchObject({ status: 502, body: 'Internal Server Error', cancelled: true });
  });

  it('a stream that ends inside its prelude is a 502', async () => {
    const got = await answer(HTTP_INTEGRATION_CONTENT_TYPE, [Buffer.from('{"statusCode":200}')]);
    expect(got.status).toBe(502);
  });

  it('a stream without a prelude is a 200 of its content type', async () => {
    const got = await answer('text/plain', [Buffer.from('a'), Buffer.from('b')]);
    expect(got).toMatchObject({ status: 200, body: 'ab', complete: true });
    expect(got.headers['content-type']).toBe('text/plain');
  });

  it('an error after the head cuts the connection after the bytes sent', async () => {
    const got = await answer('text/plain', [Buffer.from('partial')], 'error');
    expect(got).toMatchObject({ status: 200, body: 'partial', complete: false });
  });
});
