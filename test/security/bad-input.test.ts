// Findings 3, 4 and 5 (issue #11): bad input got 500 ServiceException, some error bodies were Express's
// HTML page with a stack naming node_modules and gateway/src, and function responses with a 1xx status
// or a lying content-length hung a keep-alive client or truncated the body. Each probe here gets Lambda's
// 4xx or the documented 502, in the surface's own shape, with nothing internal in it.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { type RawRequest, rawRequest } from '../support/raw-http.ts';
import { exchange } from '../support/raw-socket.ts';
import { fixture, inlineNode, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
beforeAll(async () => {
  const node = (name: string, dir: string, spec: Record<string, unknown>) => ({
    name,
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    codePath: fixture('node', dir),
    spec,
  });
  serval = await startServal({
    functions: [
      // Answers without echoing, so a payload the runtime could not serialise tests the gateway alone.
      inlineNode('echo', 'export const handler = async (e, ctx) => ({ ok: true, cc: ctx.clientContext });'),
      node('url-respond', 'url-respond', { url: {} }),
      node('alb-respond', 'alb-respond', { alb: { rules: [{ pathPrefix: '/respond', priority: 1 }] } }),
    ],
  });
});
afterAll(() => serval.stop());

/** What no error or response body may carry. */
const LEAK = /node_modules|gateway\/src|runtime-shims|\.ts:\d|at [\w.<>]+ \(|<pre>|Error: |\/work\//;

async function probe(path: string, opts: RawRequest) {
  const res = await rawRequest(serval.url, path, opts);
  const body = res.body.toString('latin1');
  expect(body, `${path}: ${body}`).not.toMatch(LEAK);
  return { ...res, text: body, type: res.headers['x-amzn-errortype'] };
}

const INVOKE = '/2015-03-31/functions/echo/invocations';

describe('Invoke API: bad input is a 4xx in Lambda words', () => {
  it.each(['%FF', '%E2%82', '%', 'echo%ZZ', '%C0%AF'])('function name %s', async (name) => {
    const res = await probe(`/2015-03-31/functions/${name}/invocations`, { method: 'POST', body: '{}' });
    expect(res.status, res.text).toBe(400);
    expect(res.type).toBe('InvalidParameterValueException');
  });

  it.each(['%FF', '%E2%82', '%'])('qualifier %s', async (q) => {
    const res = await probe(`${INVOKE}?Qualifier=${q}`, { method: 'POST', body: '{}' });
    expect(res.status, res.text).toBe(400);
    expect(res.type).toBe('InvalidParameterValueException');
  });

  it.each([
    ['foo', Buffer.from('{}')],
    ['gzip', Buffer.from('{"not":"gzip"}')],
    ['br', Buffer.from('definitely not brotli')],
    ['deflate', Buffer.from('nope')],
    ['gzip, foo', gzipSync('{}')],
  ])('Content-Encoding %s', async (encoding, body) => {
    const res = await probe(INVOKE, { method: 'POST', body, headers: [['Content-Encoding', encoding]] });
    expect([400, 415], res.text).toContain(res.status);
    expect(['InvalidRequestContentException', 'UnsupportedMediaTypeException']).toContain(res.type);
  });

  it.each(['{', '{"a":', '\u0000', 'nul'])('body %j', async (body) => {
    const res = await probe(INVOKE, { method: 'POST', body });
    expect(res.status, res.text).toBe(400);
    expect(res.type).toBe('InvalidRequestContentException');
  });

  it('100k-deep JSON is refused without a stack', async () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const res = await probe(INVOKE, { method: 'POST', body: deep });
    expect(res.status, res.text.slice(0, 300)).toBeLessThan(500);
    const obj = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const res2 = await probe(INVOKE, { method: 'POST', body: obj });
    expect(res2.status, res2.text.slice(0, 300)).toBeLessThan(500);
  });

  it.each([
    Buffer.from('{"custom":"\u00e9\r\nX-Evil: 1"}').toString('base64'),
    Buffer.from('{"k":"\u2028\u0000"}').toString('base64'),
    Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('base64'),
    '!!!not base64!!!',
  ])('client context %s reaches the function or is refused, never a 500', async (context) => {
    const res = await probe(INVOKE, {
      method: 'POST',
      body: '{}',
      headers: [['X-Amz-Client-Context', context]],
    });
    expect([200, 400], res.text).toContain(res.status);
  });
});

describe('control and operator APIs: bad JSON is InvalidRequestContentException', () => {
  it.each([
    ['POST', '/2015-03-31/functions/echo/versions'],
    ['POST', '/2015-03-31/functions/echo/aliases'],
    ['PUT', '/2015-03-31/functions/echo/aliases/live'],
    ['POST', '/serval/v1/async/dead-letters/redrive'],
    ['POST', '/serval/v1/async/dead-letters/purge'],
  ])('%s %s', async (method, path) => {
    for (const body of ['{', 'null', '"x"', '[', '{"a":1', '\u00ff']) {
      const res = await probe(path, { method, body, headers: [['Content-Type', 'application/json']] });
      expect(res.status, `${body}: ${res.text}`).toBe(400);
      expect(res.type).toBe('InvalidRequestContentException');
    }
    const encoded = await probe(path, { method, body: '{}', headers: [['Content-Encoding', 'foo']] });
    expect(encoded.status, encoded.text).toBe(415);
    expect(encoded.type).toBe('UnsupportedMediaTypeException');
    const charset = await probe(path, {
      method,
      body: '{}',
      headers: [['Content-Type', 'application/json; charset=klingon']],
    });
    expect(charset.status, charset.text).toBe(415);
  });

  it('a name with invalid percent-encoding', async () => {
    const res = await probe('/2015-03-31/functions/%FF/versions', { method: 'GET' });
    expect(res.status).toBe(400);
    expect(res.type).toBe('InvalidParameterValueException');
  });
});

const urlPath = `/lambda-url/${functionUrlId('default', 'url-respond', '$LATEST')}/`;
const respond = (ret: unknown) => ({ method: 'POST', body: JSON.stringify({ ret }) });

describe('function URL responses the gateway cannot send as they are', () => {
  it.each([
    { statusCode: 200, headers: { 'x-a': 'one\r\nx-injected: 1' } },
    { statusCode: 200, headers: { 'x-a': 'caf\u00e9 \u2603' } },
    { statusCode: 200, headers: { 'bad name': 'x' } },
    { statusCode: 200, headers: { 'x-a': 'nul\u0000' } },
    { statusCode: 200, cookies: ['a=1\r\nx-injected: 1'] },
    { statusCode: 200, cookies: ['snow=\u2603'] },
    { statusCode: 103 },
    { statusCode: 100, body: 'x' },
    { statusCode: 199 },
  ])('%j is a 502', async (ret) => {
    const res = await probe(urlPath, respond(ret));
    expect(res.status, res.text).toBe(502);
    expect(res.text).toBe('Internal Server Error');
    expect(res.headers['x-injected']).toBeUndefined();
  });

  it('the gateway frames the body: a function content-length or transfer-encoding is replaced', async () => {
    for (const headers of [
      { 'content-length': '1' },
      { 'Content-Length': '99999' },
      { 'transfer-encoding': 'chunked' },
      { connection: 'close', 'keep-alive': 'timeout=1', upgrade: 'h2c' },
    ]) {
      const res = await probe(urlPath, respond({ statusCode: 200, headers, body: 'hello world' }));
      expect(res.status).toBe(200);
      expect(res.text).toBe('hello world');
      expect(res.headers['content-length']).toBe('11');
      expect(res.headers.upgrade).toBeUndefined();
    }
  });

  it('a 1xx status never leaves a keep-alive client waiting', async () => {
    const body = JSON.stringify({ ret: { statusCode: 103, body: 'x' } });
    const answer = await exchange(
      serval.url,
      `POST ${urlPath} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      { waitMs: 5_000, enough: (t) => /\r\n\r\nInternal Server Error$/.test(t) },
    );
    expect(answer.text).toMatch(/^HTTP\/1\.1 502/);
  });
});

describe('ALB responses the gateway cannot send as they are', () => {
  const alb = (ret: unknown) => probe('/respond', respond(ret));

  it.each([
    { statusCode: 200, statusDescription: '200 OK\r\nX-Injected: 1', isBase64Encoded: false },
    { statusCode: 200, statusDescription: '200 \u2603', isBase64Encoded: false },
    { statusCode: 200, headers: { 'x-a': 'a\r\nb' }, isBase64Encoded: false },
    { statusCode: 200, headers: { 'x\u00e9': 'a' }, isBase64Encoded: false },
    { statusCode: 103, isBase64Encoded: false },
  ])('%j is the ALB 502 page', async (ret) => {
    const res = await alb(ret);
    expect(res.status, res.text).toBe(502);
    expect(res.text).toContain('502 Bad Gateway');
    expect(res.headers['x-injected']).toBeUndefined();
  });

  it('computes content-length itself', async () => {
    const res = await alb({
      statusCode: 200,
      isBase64Encoded: false,
      headers: { 'content-length': '1', 'transfer-encoding': 'chunked' },
      body: 'long enough',
    });
    expect(res.status).toBe(200);
    expect(res.text).toBe('long enough');
    expect(res.headers['content-length']).toBe('11');
  });
});
