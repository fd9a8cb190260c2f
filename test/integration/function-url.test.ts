// Function URLs (reference §5): payload format 2.0 in, response inference out, CORS, errors — on the
// real gateway with real runtimes, and unmodified Express and Hono apps behind them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { type RawRequest, type RawResponse, rawRequest } from '../support/raw-http.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
const cors = {
  allowOrigins: ['https://app.example.com'],
  allowMethods: ['GET', 'POST'],
  allowHeaders: ['x-custom'],
  exposeHeaders: ['x-app'],
  maxAge: 300,
  allowCredentials: true,
};
const node = (name: string, dir: string, spec: Record<string, unknown> = { url: {} }) => ({
  name,
  runtime: 'nodejs24.x',
  handler: 'index.handler',
  codePath: fixture('node', dir),
  spec,
});

beforeAll(async () => {
  serval = await startServal({
    functions: [
      node('url-echo', 'url-echo', { url: { cors } }),
      node('url-respond', 'url-respond'),
      node('url-throws', 'throws'),
      node('url-off', 'url-echo', { url: {}, reservedConcurrency: 0 }),
      node('no-url', 'url-echo', {}),
      node('express-app', 'express-app'),
      node('hono-app', 'hono-app'),
      {
        name: 'url-trace',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: {
          'index.mjs':
            'export const handler = async (event) => ({ event: event.headers["x-amzn-trace-id"], env: process.env._X_AMZN_TRACE_ID });\n',
        },
        spec: { url: {} },
      },
    ],
  });
});
afterAll(() => serval.stop());

const id = (name: string) => functionUrlId('default', name, '$LATEST');

const send = (path: string, opts: RawRequest = {}): Promise<RawResponse> =>
  rawRequest(serval.url, path, opts);

const eventOf = async (path: string, opts: RawRequest = {}) => {
  const res = await send(`/lambda-url/${id('url-echo')}${path}`, opts);
  expect(res.status).toBe(200);
  return JSON.parse(res.body.toString()) as Record<string, any>;
};

describe('request event (payload format 2.0)', () => {
  it('a plain GET', async () => {
    const sent = Date.now();
    const e = await eventOf('/hello/world', { headers: [['user-agent', 'serval-test']] });
    expect(e).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/hello/world',
      rawQueryString: '',
      isBase64Encoded: false,
      requestContext: {
        // authType NONE: no caller identity, as on AWS.
        accountId: 'anonymous',
        apiId: id('url-echo'),
        domainName: `${id('url-echo')}.lambda-url.local.localhost`,
        domainPrefix: id('url-echo'),
        http: {
          method: 'GET',
          path: '/hello/world',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'serval-test',
        },
        routeKey: '$default',
        stage: '$default',
      },
    });
    expect(e).not.toHaveProperty('cookies');
    expect(e).not.toHaveProperty('queryStringParameters');
    expect(e).not.toHaveProperty('body');
    expect(e.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(e.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    // The time the request arrived: between sending it and its answer, however slow a cold start was.
    expect(e.requestContext.timeEpoch).toBeGreaterThanOrEqual(sent - 1);
    expect(e.requestContext.timeEpoch).toBeLessThanOrEqual(Date.now());
  });

  it.each([
    [
      'repeated query keys, joined with commas',
      '/q?a=1&a=2&b=x%20y',
      { rawQueryString: 'a=1&a=2&b=x%20y', queryStringParameters: { a: '1,2', b: 'x y' } },
    ],
    ['percent-encoded path stays raw', '/caf%C3%A9/a%2Fb', { rawPath: '/caf%C3%A9/a%2Fb' }],
    ['empty value', '/q?flag=', { rawQueryString: 'flag=', queryStringParameters: { flag: '' } }],
  ])('%s', async (_label, path, expected) => {
    expect(await eventOf(path)).toMatchObject(expected);
  });

  it('carries the headers the front end adds: forwarding, port, scheme and a trace id', async () => {
    const e = await eventOf('/fwd');
    expect(e.headers).toMatchObject({
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-port': new URL(serval.url).port,
    });
    expect(e.headers['x-amzn-trace-id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;|$)/);
    // Plain HTTP: no TLS parameters.
    expect(Object.keys(e.headers).filter((h) => h.startsWith('x-amzn-tls-'))).toEqual([]);
  });

  it("the function's _X_AMZN_TRACE_ID is the trace header of its event", async () => {
    const res = await send(`/lambda-url/${id('url-trace')}/`);
    const { event, env } = JSON.parse(res.body.toString()) as { event: string; env: string };
    expect(event).toMatch(/^Root=1-/);
    expect(env.split(';')[0]).toBe(event.split(';')[0]);
  });

  it('appends the client to a forwarded-for chain and keeps a caller trace header', async () => {
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const e = await eventOf('/fwd', {
      headers: [
        ['x-forwarded-for', '203.0.113.7'],
        ['x-amzn-trace-id', trace],
      ],
    });
    expect(e.headers['x-forwarded-for']).toBe('203.0.113.7, 127.0.0.1');
    expect(e.headers['x-amzn-trace-id']).toBe(trace);
  });

  it('does not pass hop-by-hop headers, nor those a Connection header names', async () => {
    const e = await eventOf('/hop', {
      headers: [
        ['connection', 'keep-alive, x-hop'],
        ['keep-alive', 'timeout=5'],
        ['x-hop', 'one hop only'],
        ['te', 'trailers'],
        ['x-end-to-end', 'kept'],
      ],
    });
    for (const name of ['connection', 'keep-alive', 'x-hop', 'te'])
      expect(e.headers).not.toHaveProperty(name);
    expect(e.headers['x-end-to-end']).toBe('kept');
  });

  it('repeated headers are comma-joined under lower-case names; cookies move to `cookies`', async () => {
    const e = await eventOf('/h', {
      headers: [
        ['X-Multi', 'one'],
        ['X-Multi', 'two'],
        ['Cookie', 'a=1; b=2'],
        ['Cookie', 'c=3'],
      ],
    });
    expect(e.headers['x-multi']).toBe('one,two');
    expect(e.headers).not.toHaveProperty('cookie');
    expect(e.cookies).toEqual(['a=1', 'b=2', 'c=3']);
  });

  it('text bodies arrive as text, binary bodies as base64', async () => {
    const text = await eventOf('/t', {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: '{"k":"v"}',
    });
    expect(text).toMatchObject({ body: '{"k":"v"}', isBase64Encoded: false });
    const bytes = Buffer.from([0, 1, 2, 253, 254, 255]);
    const bin = await eventOf('/b', {
      method: 'POST',
      headers: [['content-type', 'application/octet-stream']],
      body: bytes,
    });
    expect(bin).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('the Host form routes by <url-id>.<domain>', async () => {
    const res = await send('/by-host?x=1', {
      headers: [['host', `${id('url-echo')}.lambda-url.local.localhost:8080`]],
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ rawPath: '/by-host', rawQueryString: 'x=1' });
  });
});

describe('response inference', () => {
  const respond = (ret: unknown) =>
    send(`/lambda-url/${id('url-respond')}/`, {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: JSON.stringify({ ret }),
    });

  it('an object with statusCode is the response; cookies become set-cookie headers; base64 bodies are decoded', async () => {
    const res = await respond({
      statusCode: 201,
      headers: { 'X-Reply': 'yes', 'content-type': 'image/png' },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from([1, 2, 3]).toString('base64'),
      isBase64Encoded: true,
    });
    expect(res.status).toBe(201);
    expect(res.headers['x-reply']).toBe('yes');
    expect(res.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2']);
    expect(res.body).toEqual(Buffer.from([1, 2, 3]));
  });

  it.each([
    [{ hello: 'world' }, '{"hello":"world"}'],
    ['Hello', '"Hello"'],
    [42, '42'],
  ])('JSON without statusCode (%j) becomes a 200 application/json body', async (ret, body) => {
    const res = await respond(ret);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.body.toString()).toBe(body);
  });

  it('a function error or malformed output is 502 Internal Server Error', async () => {
    const failed = await send(`/lambda-url/${id('url-throws')}/`);
    expect(failed.status).toBe(502);
    expect(failed.body.toString()).toBe('Internal Server Error');
    const malformed = await respond('not-json');
    expect(malformed.status).toBe(502);
  });
});

describe('CORS, limits and errors', () => {
  it('answers a preflight from configuration without invoking the function', async () => {
    const before = serval.logs('url-echo').filter((l) => l.startsWith('START')).length;
    const res = await send(`/lambda-url/${id('url-echo')}/x`, {
      method: 'OPTIONS',
      headers: [
        ['origin', 'https://app.example.com'],
        ['access-control-request-method', 'POST'],
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'x-custom',
      'access-control-allow-credentials': 'true',
      'access-control-max-age': '300',
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(serval.logs('url-echo').filter((l) => l.startsWith('START')).length).toBe(before);
  });

  it('adds CORS headers to responses for allowed origins only', async () => {
    const allowed = await send(`/lambda-url/${id('url-echo')}/`, {
      headers: [['origin', 'https://app.example.com']],
    });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example.com');
    expect(allowed.headers['access-control-expose-headers']).toBe('x-app');
    const other = await send(`/lambda-url/${id('url-echo')}/`, {
      headers: [['origin', 'https://evil.example']],
    });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('413 over 6 MB, 429 when reserved concurrency is 0, 404 for an unknown or absent URL', async () => {
    const big = await send(`/lambda-url/${id('url-echo')}/`, {
      method: 'POST',
      body: Buffer.alloc(6 * 1024 * 1024 + 1, 97),
    });
    expect(big.status).toBe(413);
    const off = await send(`/lambda-url/${id('url-off')}/`);
    expect(off.status).toBe(429);
    expect(JSON.parse(off.body.toString())).toMatchObject({
      Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
    });
    expect((await send(`/lambda-url/${'a'.repeat(32)}/`)).status).toBe(404);
    expect((await send(`/lambda-url/${id('no-url')}/`)).status).toBe(404);
  });
});

describe.each(['express-app', 'hono-app'])('unmodified adapter: %s', (name) => {
  const base = () => `/lambda-url/${id(name)}`;

  it('GET with query, headers and cookies; the app sets cookies and headers', async () => {
    const res = await send(`${base()}/hello?x=1&y=two`, { headers: [['cookie', 'prior=yes']] });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body.toString());
    expect(body).toMatchObject({ method: 'GET', path: '/hello', cookie: 'prior=yes' });
    expect(JSON.stringify(body.query)).toMatch(/"x":\[?"1"\]?/);
    expect(res.headers['x-app']).toBe(name === 'express-app' ? 'express' : 'hono');
    const cookies = res.headers['set-cookie'] as string[];
    expect(cookies).toHaveLength(2);
    expect(cookies.some((c) => c.startsWith('session=abc123') && /HttpOnly/i.test(c))).toBe(true);
    expect(cookies.some((c) => c.startsWith('theme=dark'))).toBe(true);
  });

  it('POST with a JSON body', async () => {
    const res = await send(`${base()}/echo`, {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: '{"n":7}',
    });
    expect(res.status).toBe(201);
    expect(JSON.parse(res.body.toString())).toMatchObject({ received: { n: 7 }, type: 'application/json' });
  });

  it('a binary response arrives byte for byte', async () => {
    const res = await send(`${base()}/binary`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^image\/png/);
    expect(res.body).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01, 0xfe, 0xff]));
  });
});
