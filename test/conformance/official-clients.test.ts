// The official AWS runtime interface clients, unmodified, against Serval's agent (design §5's bar).
// `bash test/official-clients/prepare.sh` builds them; CI always does, so there a missing client fails.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const cache = join(process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval'), 'official-clients');
const prepared = ['node-ric', 'python-ric', 'go-bootstrap'].every((c) => existsSync(join(cache, c)));
if (!prepared && process.env.CI)
  throw new Error(`official clients missing under ${cache}: run test/official-clients/prepare.sh`);

const CLIENTS = [
  {
    client: 'aws-lambda-ric (npm)',
    dir: 'node-ric',
    ok: 'index.handler',
    fail: 'index.fail',
    errorType: 'Error',
  },
  {
    client: 'awslambdaric (PyPI)',
    dir: 'python-ric',
    ok: 'app.handler',
    fail: 'app.fail',
    errorType: 'ValueError',
  },
  { client: 'aws-lambda-go', dir: 'go', ok: 'bootstrap', fail: 'bootstrap', errorType: 'errorString' },
];

/** The clients with a streaming mode (awslambdaric, the Python one, has none). */
const STREAMING = [
  { client: 'aws-lambda-ric (npm)', dir: 'node-ric', handler: 'index.stream', status: 202 },
  { client: 'aws-lambda-go', dir: 'go', handler: 'stream', status: 203 },
];

let serval: TestServal;
beforeAll(async () => {
  if (!prepared) return;
  serval = await startServal({
    functions: CLIENTS.flatMap((c) => [
      {
        name: `${c.dir}-ok`,
        runtime: 'provided',
        handler: c.ok,
        codePath: fixture('official', c.dir),
        timeoutSeconds: 10,
      },
      {
        name: `${c.dir}-fail`,
        runtime: 'provided',
        handler: c.fail,
        codePath: fixture('official', c.dir),
        timeoutSeconds: 10,
      },
    ]).concat(
      STREAMING.map((c) => ({
        name: `${c.dir}-stream`,
        runtime: 'provided',
        handler: c.handler,
        codePath: fixture('official', c.dir),
        timeoutSeconds: 10,
        spec: { url: { invokeMode: 'RESPONSE_STREAM' } },
      })),
    ),
  });
});
afterAll(() => serval?.stop());

describe.skipIf(!prepared)('official runtime interface clients', () => {
  it.each(CLIENTS)('$client serves successful invocations, warm and cold', async (c) => {
    for (let i = 0; i < 3; i++) {
      const res = await serval.invoke(`${c.dir}-ok`, c.dir === 'go' ? { data: { n: i } } : { n: i });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-function-error')).toBeNull();
      const body = res.json() as { ok: boolean; requestId: string };
      expect(body.ok).toBe(true);
      expect(body.requestId).toBe(res.headers.get('x-amzn-requestid'));
      if (i === 0) expect(res.logTail).toMatch(/Init Duration: [\d.]+ ms/);
    }
  });

  it.each(CLIENTS)('$client reports errors as function errors', async (c) => {
    const res = await serval.invoke(`${c.dir}-fail`, { fail: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toMatchObject({ errorType: c.errorType, errorMessage: 'failing on purpose' });
    // The environment survives a reported error and serves again.
    const again = await serval.invoke(`${c.dir}-fail`, { fail: true });
    expect(again.logTail).not.toMatch(/Init Duration/);
  });

  it.each(STREAMING)('$client streams through a RESPONSE_STREAM function URL, prelude and all', async (c) => {
    const id = functionUrlId('default', `${c.dir}-stream`, '$LATEST');
    const res = await fetch(`${serval.url}/lambda-url/${id}/path`);
    expect(res.status).toBe(c.status);
    expect(res.headers.get('x-client')).toBe(c.client.split(' ')[0]);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('transfer-encoding')).toBe('chunked');
    expect(await res.text()).toMatch(/^streamed by .* \(\/path\)$/);
  });
});
