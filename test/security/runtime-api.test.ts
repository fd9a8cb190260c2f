// Finding 6 (issue #11): single malformed requests to the agent's Runtime API (e.g.
// `POST /2018-06-01/runtime/invocation/%FF/response`) ended the agent and failed the in-flight invocation
// with Sandbox.Failure; a client context decoding to non-ASCII or CR/LF JSON killed the runtime. A handler
// here attacks its own Runtime API mid-invocation: every probe gets a documented 4xx, the invocation
// still succeeds, and client contexts reach Node and Python handlers intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, inlineNode, startServal, type TestServal } from '../support/serval.ts';

const PROBER = `
import { request } from 'node:http';
import { connect } from 'node:net';
const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const send = ([method, path, headers = {}, body]) => new Promise((resolve) => {
  const r = request({ host, port, method, path, headers }, (res) => {
    let text = '';
    res.on('data', (c) => { text += c; });
    res.on('end', () => resolve({ status: res.statusCode, text }));
  });
  r.on('error', (e) => resolve({ status: 0, text: String(e) }));
  r.end(body);
});
const raw = (bytes) => new Promise((resolve) => {
  const s = connect(Number(port), host);
  let text = '';
  s.on('data', (d) => { text += d; });
  s.on('close', () => resolve({ status: Number(/^HTTP\\/1\\.1 (\\d+)/.exec(text)?.[1] ?? 0), text }));
  s.on('error', () => resolve({ status: 0, text }));
  setTimeout(() => s.destroy(), 2000);
  s.write(bytes);
});
export const handler = async (event) => {
  const out = [];
  for (const p of event.probes ?? []) out.push({ probe: p, ...(await send(p)) });
  for (const r of event.raw ?? []) out.push({ probe: r, ...(await raw(r)) });
  return out;
};`;

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      inlineNode('prober', PROBER),
      {
        name: 'node-context',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'context'),
      },
      {
        name: 'python-context',
        runtime: 'python3.12',
        handler: 'lambda_function.handler',
        codePath: fixture('python', 'context'),
      },
    ],
  });
});
afterAll(() => serval.stop());

const OTHER_ID = '00000000-0000-4000-8000-000000000000';
const INV = '/2018-06-01/runtime/invocation';

describe('malformed Runtime API requests', () => {
  const probes: Array<[string, string, Record<string, string>?, string?]> = [
    ['POST', `${INV}/%FF/response`, {}, '{}'],
    ['POST', `${INV}/%E2%82/error`, {}, '{}'],
    ['POST', `${INV}/%/response`, {}, '{}'],
    ['POST', `${INV}/%C0%AF/response`, {}, '{}'],
    ['POST', `${INV}/${OTHER_ID}/response`, {}, '{}'],
    ['POST', `${INV}/${OTHER_ID}/error`, { 'Lambda-Runtime-Function-Error-Type': '\u00ff' }, '{'],
    ['GET', `${INV}/next`],
    ['POST', '/2018-06-01/runtime/init/error', {}, '{}'],
    ['PUT', `${INV}/%FF/response`],
    ['GET', '/2018-06-01/runtime/invocation/next/%FF'],
    ['GET', '//2018-06-01//runtime/invocation/next'],
    ['POST', `${INV}/${OTHER_ID}/response`, { 'Lambda-Runtime-Function-Response-Mode': 'bogus' }, '{}'],
    ['GET', '/%FF'],
  ];
  const raw = [
    `POST ${INV}/%FF/response HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n`,
    `POST ${INV}/${OTHER_ID}/response HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`,
    'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nX: \x00\r\n\r\n',
    '\x16\x03\x01\x00\x00garbage\r\n\r\n',
  ];

  it('each gets a 4xx, and the invocation that sent them still succeeds', async () => {
    const res = await serval.invoke('prober', { probes, raw });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error'), res.text).toBeNull();
    for (const answer of res.json() as Array<{ probe: unknown; status: number; text: string }>) {
      expect(answer.status, `${JSON.stringify(answer.probe)} → ${answer.text}`).toBeGreaterThanOrEqual(400);
      expect(answer.status, `${JSON.stringify(answer.probe)} → ${answer.text}`).toBeLessThan(500);
    }
    // The same environment keeps serving.
    const again = await serval.invoke('prober', {});
    expect(again.status).toBe(200);
    expect(again.json()).toEqual([]);
  });
});

describe('client context reaches the handler intact', () => {
  const contexts: Array<[string, string]> = [
    [
      'non-ASCII',
      JSON.stringify({ custom: { name: 'caf\u00e9 \u2603 \u{1F600}' }, env: { locale: '\u65e5\u672c' } }),
    ],
    ['raw CR/LF between tokens', '{\r\n"custom":\r\n{"a":"b"},\r\n"env":{}}'],
    [
      'escaped CR/LF in a string',
      JSON.stringify({ custom: { a: 'x\r\nLambda-Runtime-Aws-Request-Id: forged' } }),
    ],
    ['a line separator', JSON.stringify({ custom: { a: '\u2028\u2029' }, env: {} })],
    ['not an object', '[1,2]'],
    ['a client that is not an object', JSON.stringify({ client: 'x', custom: {} })],
  ];
  it.each(contexts)('Node: %s', async (_name, json) => {
    const res = await serval.invoke(
      'node-context',
      {},
      {
        'X-Amz-Client-Context': Buffer.from(json, 'utf8').toString('base64'),
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error'), res.text).toBeNull();
    expect((res.json() as { clientContext: unknown }).clientContext).toEqual(JSON.parse(json));
  });

  it.each(contexts)('Python: %s', async (_name, json) => {
    const res = await serval.invoke(
      'python-context',
      {},
      {
        'X-Amz-Client-Context': Buffer.from(json, 'utf8').toString('base64'),
      },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error'), res.text).toBeNull();
    const parsed = JSON.parse(json) as { custom?: unknown; env?: unknown };
    const seen = (res.json() as { client_context: { custom: unknown; env: unknown } | null }).client_context;
    if (Array.isArray(parsed)) expect(seen).toBeNull();
    else expect(seen).toMatchObject({ custom: parsed.custom ?? null, env: parsed.env ?? null });
  });

  it('the runtimes still serve afterwards', async () => {
    expect((await serval.invoke('node-context')).status).toBe(200);
    expect((await serval.invoke('python-context')).status).toBe(200);
  });
});
