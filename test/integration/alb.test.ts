// ALB-style routes (reference §6): listener rules, both header modes, undecoded queries, base64 by content
// type, response validation and limits — on the real gateway with real runtimes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RawRequest, type RawResponse, rawRequest } from '../support/raw-http.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
const fn = (name: string, dir: string, alb: Record<string, unknown>) => ({
  name,
  runtime: 'nodejs24.x',
  handler: 'index.handler',
  codePath: fixture('node', dir),
  spec: { alb },
});

beforeAll(async () => {
  serval = await startServal({
    functions: [
      fn('single', 'alb-echo', { rules: [{ pathPrefix: '/single', priority: 10 }] }),
      fn('multi', 'alb-echo', { rules: [{ pathPrefix: '/multi', priority: 20 }], multiValueHeaders: true }),
      fn('by-host', 'alb-echo', { rules: [{ host: '*.shop.example', priority: 5 }] }),
      fn('respond', 'alb-respond', { rules: [{ pathPrefix: '/respond', priority: 30 }] }),
      fn('respond-multi', 'alb-respond', {
        rules: [{ pathPrefix: '/mrespond', priority: 31 }],
        multiValueHeaders: true,
      }),
      fn('throws', 'throws', { rules: [{ pathPrefix: '/throws', priority: 40 }] }),
      fn('catch-all', 'alb-echo', { rules: [{ pathPrefix: '/', priority: 1000 }] }),
    ],
  });
});
afterAll(() => serval.stop());

const send = (path: string, opts: RawRequest = {}): Promise<RawResponse> =>
  rawRequest(serval.url, path, opts);

const eventOf = async (path: string, opts: RawRequest = {}) => {
  const res = await send(path, opts);
  expect(res.status).toBe(200);
  return JSON.parse(res.body.toString()) as Record<string, any>;
};

describe('request events', () => {
  it('single-value mode: last value wins, queries stay undecoded, ALB headers are added', async () => {
    const e = await eventOf('/single/items?a=1&a=2&q=%20x+y', {
      headers: [
        ['X-Dup', 'one'],
        ['X-Dup', 'two'],
        ['User-Agent', 'alb-test'],
      ],
    });
    expect(e).toMatchObject({
      httpMethod: 'GET',
      path: '/single/items',
      queryStringParameters: { a: '2', q: '%20x+y' },
      body: '',
      isBase64Encoded: false,
      requestContext: {
        elb: {
          targetGroupArn: expect.stringMatching(
            /^arn:serval:elasticloadbalancing:local:default:targetgroup\/single\/[0-9a-f]{16}$/,
          ),
        },
      },
    });
    expect(e.headers).toMatchObject({
      'x-dup': 'two',
      'user-agent': 'alb-test',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
    });
    expect(e.headers['x-amzn-trace-id']).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
    expect(e).not.toHaveProperty('multiValueHeaders');
  });

  it('multi-value mode: arrays for repeated headers and query keys, instead of the single-value maps', async () => {
    const e = await eventOf('/multi?a=1&a=2&b=%2F', {
      headers: [
        ['X-Dup', 'one'],
        ['X-Dup', 'two'],
      ],
    });
    expect(e.multiValueQueryStringParameters).toEqual({ a: ['1', '2'], b: ['%2F'] });
    expect(e.multiValueHeaders['x-dup']).toEqual(['one', 'two']);
    expect(e).not.toHaveProperty('headers');
    expect(e).not.toHaveProperty('queryStringParameters');
  });

  it('base64 by content type: text types as-is, others and content-encoded bodies base64', async () => {
    const json = await eventOf('/single', {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: '{"a":1}',
    });
    expect(json).toMatchObject({ body: '{"a":1}', isBase64Encoded: false });
    const bytes = Buffer.from([0, 255, 1]);
    const bin = await eventOf('/single', {
      method: 'POST',
      headers: [['content-type', 'image/png']],
      body: bytes,
    });
    expect(bin).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
    const gz = await eventOf('/single', {
      method: 'POST',
      headers: [
        ['content-type', 'text/plain'],
        ['content-encoding', 'gzip'],
      ],
      body: 'abc',
    });
    expect(gz).toMatchObject({ body: Buffer.from('abc').toString('base64'), isBase64Encoded: true });
  });

  it('rules: host wildcard and priority order pick the function; the Lambda API is never shadowed', async () => {
    const e = await eventOf('/anything', { headers: [['host', 'www.shop.example:8080']] });
    expect(e.requestContext.elb.targetGroupArn).toContain('targetgroup/by-host/');
    const fallback = await eventOf('/other/path');
    expect(fallback.requestContext.elb.targetGroupArn).toContain('targetgroup/catch-all/');
    const invoke = await serval.invoke('single', { direct: true });
    expect(invoke.status).toBe(200); // the Invoke API, not the catch-all rule
  });
});

describe('responses', () => {
  const respond = (path: string, ret: unknown) =>
    send(path, {
      method: 'POST',
      headers: [['content-type', 'application/json']],
      body: JSON.stringify({ ret }),
    });

  it('single-value headers, status description and a base64 body', async () => {
    const res = await respond('/respond', {
      statusCode: 201,
      statusDescription: '201 Created',
      isBase64Encoded: true,
      headers: { 'X-Reply': 'yes', 'Content-Type': 'image/png' },
      body: Buffer.from([9, 8, 7]).toString('base64'),
    });
    expect(res.status).toBe(201);
    expect(res.statusMessage).toBe('Created');
    expect(res.headers['x-reply']).toBe('yes');
    expect(res.body).toEqual(Buffer.from([9, 8, 7]));
  });

  it('multi-value headers send repeated headers such as several set-cookie', async () => {
    const res = await respond('/mrespond', {
      statusCode: 200,
      isBase64Encoded: false,
      multiValueHeaders: { 'Set-Cookie': ['a=1', 'b=2'] },
      body: 'ok',
    });
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(res.body.toString()).toBe('ok');
  });

  it.each([
    ['no statusCode', { body: 'x' }],
    ['a non-string body', { statusCode: 200, body: { a: 1 } }],
    ['not an object', 'just a string'],
  ])('a malformed response (%s) is 502', async (_label, ret) => {
    const res = await respond('/respond', ret);
    expect(res.status).toBe(502);
    expect(res.body.toString()).toContain('502 Bad Gateway');
  });

  it('a function error is 502; a request body over 1 MB is 413; a response over 1 MB is 502', async () => {
    expect((await send('/throws')).status).toBe(502);
    expect((await send('/single', { method: 'POST', body: Buffer.alloc(1024 * 1024 + 1, 97) })).status).toBe(
      413,
    );
    const huge = await respond('/respond', {
      statusCode: 200,
      isBase64Encoded: false,
      headers: {},
      repeat: 1024 * 1024,
    });
    expect(huge.status).toBe(502);
  });
});
