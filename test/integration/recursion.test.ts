// Recursive-loop detection with real runtimes and the unmodified JS SDK v3 inside the function: a function
// that invokes itself is stopped after 16 hops with RecursiveInvocationException, an async loop and a loop
// through destinations end at the failure destination, RecursiveLoop Allow lets a loop run on, and a hop
// counter forged by an outside caller is not trusted.
//
// The functions call the gateway over the host's loopback, so their sandbox shares the host network
// (SERVAL_LOCAL_ISOLATION=off, as the event-source tests do for their brokers): a sandboxed environment
// has a loopback of its own and cannot reach the gateway (docs/security.md).
import {
  CreateFunctionCommand,
  GetFunctionRecursionConfigCommand,
  LambdaClient,
  PutFunctionRecursionConfigCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { inlineNode, startServal, type TestServal } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';

// Invokes itself one level deeper until `event.max`, or until the gateway stops it; the deepest level's
// answer travels back up. `event.async` makes each hop an Event invocation instead.
const LOOPER = `
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
const lambda = new LambdaClient({
  endpoint: process.env.SERVAL_ENDPOINT,
  region: 'local',
  credentials: { accessKeyId: 'serval', secretAccessKey: 'serval' },
  maxAttempts: 1,
});
export const handler = async (event, context) => {
  const depth = (event.depth ?? 0) + 1;
  const lineage = /Lineage=([^;]*)/.exec(process.env._X_AMZN_TRACE_ID ?? '')?.[1] ?? null;
  if (event.max && depth >= event.max) return { depth, lineage };
  const next = { ...event, depth };
  try {
    const out = await lambda.send(new InvokeCommand({
      FunctionName: context.functionName,
      InvocationType: event.async ? 'Event' : 'RequestResponse',
      Payload: JSON.stringify(next),
    }));
    if (event.async) return { depth };
    return JSON.parse(Buffer.from(out.Payload).toString('utf8'));
  } catch (err) {
    return { depth, lineage, stoppedBy: err.name, status: err.$metadata?.httpStatusCode, message: err.message };
  }
};
`;
// Returns its input one level deeper: as its own success destination it loops without any SDK call.
const BOUNCER = `
export const handler = async (event) => ({ depth: (event.responsePayload?.depth ?? 0) + 1 });
`;

let serval: TestServal;
let sink: HttpSink;
let lambda: LambdaClient;
beforeAll(async () => {
  sink = await startHttpSink();
  const port = await freePort();
  const environment = { SERVAL_ENDPOINT: `http://127.0.0.1:${port}` };
  const looper = (name: string, spec: Record<string, unknown> = {}) =>
    inlineNode(name, LOOPER, { environment, timeoutSeconds: 300, spec });
  const http = (path: string) => ({ http: { url: `${sink.url}${path}` } });
  serval = await startServal({
    // Sixteen nested cold starts on a loaded machine can each take long.
    config: { port, localIsolation: 'off', environmentStartTimeoutSeconds: 120 },
    functions: [
      looper('looper'),
      looper('allowed', { recursiveLoop: 'Allow' }),
      looper('async-looper', {
        async: { destinations: { onSuccess: http('/async/ok'), onFailure: http('/async/failed') } },
      }),
      inlineNode('bouncer', BOUNCER, {
        spec: {
          async: { destinations: { onSuccess: { function: 'bouncer' }, onFailure: http('/bouncer/failed') } },
        },
      }),
    ],
  });
  lambda = new LambdaClient({
    endpoint: serval.url,
    region: 'local',
    credentials: { accessKeyId: 'serval', secretAccessKey: 'serval' },
    maxAttempts: 1,
  });
}, 60_000);
afterAll(async () => {
  lambda?.destroy();
  await serval?.stop();
  await sink?.close();
});

interface Deepest {
  depth: number;
  lineage?: string | null;
  stoppedBy?: string;
  status?: number;
  message?: string;
}

async function run(name: string, payload: Record<string, unknown>, traceHeader?: string): Promise<Deepest> {
  const res = await serval.invoke(name, payload, traceHeader ? { 'X-Amzn-Trace-Id': traceHeader } : {});
  expect(res.status, res.text).toBe(200);
  expect(res.headers.get('x-amz-function-error'), res.text).toBeNull();
  return res.json() as Deepest;
}

describe('recursive-loop detection', () => {
  it('a function invoking itself through the SDK is stopped after 16 hops', async () => {
    const deepest = await run('looper', {});
    expect(deepest).toMatchObject({ depth: 16, stoppedBy: 'RecursiveInvocationException', status: 400 });
    expect(deepest.message).toMatch(/looper was invoked more than 16 times/);
    // The 16th run saw its count in the Lineage field of its trace header.
    expect(deepest.lineage).toMatch(/^[0-9a-f]{8}:16$/);
    expect(serval.gatewayLog().join('\n')).toMatch(/recursive loop stopped: function default\/looper looped/);
    const metrics = await (await fetch(serval.metricsUrl!)).text();
    expect(metrics).toMatch(
      /serval_recursive_invocations_dropped_total\{namespace="default",function="looper"\} 1/,
    );
  }, 240_000);

  it('a hop counter forged by the caller is ignored: the chain still runs 16 hops', async () => {
    const root = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${'ab'.repeat(12)};Parent=53995c3f42cd8ad8;Sampled=0`;
    for (const forged of ['deadbeef:15', '00000000:0|ffffffff:9999', 'garbage', `${'a'.repeat(8)}:1`]) {
      const deepest = await run('looper', {}, `${root};Lineage=${forged}`);
      expect(deepest, forged).toMatchObject({ depth: 16, stoppedBy: 'RecursiveInvocationException' });
    }
  }, 480_000);

  it('with RecursiveLoop Allow a loop is not stopped (the payload bounds it)', async () => {
    const deepest = await run('allowed', { max: 20 });
    expect(deepest).toMatchObject({ depth: 20 });
    expect(deepest.stoppedBy).toBeUndefined();
    expect(deepest.lineage).toMatch(/^[0-9a-f]{8}:20$/);
  }, 240_000);

  it('Put/GetFunctionRecursionConfig switch a function between Terminate and Allow', async () => {
    // The API changes the functions it created; a manifest's function is changed in its file.
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'api-looper',
        Runtime: 'nodejs24.x',
        Role: 'arn:aws:iam::123456789012:role/lambda-role',
        Handler: 'index.handler',
        Timeout: 300,
        Environment: { Variables: { SERVAL_ENDPOINT: serval.url } },
        Code: { ZipFile: makeZip({ 'index.mjs': LOOPER }) },
      }),
    );
    expect(created.FunctionName).toBe('api-looper');
    const got = await lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'api-looper' }));
    expect(got.RecursiveLoop).toBe('Terminate');
    const put = await lambda.send(
      new PutFunctionRecursionConfigCommand({ FunctionName: 'api-looper', RecursiveLoop: 'Allow' }),
    );
    expect(put.RecursiveLoop).toBe('Allow');
    expect(
      (await lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'api-looper' })))
        .RecursiveLoop,
    ).toBe('Allow');
    expect(await run('api-looper', { max: 18 })).toMatchObject({ depth: 18 });
    await lambda.send(
      new PutFunctionRecursionConfigCommand({ FunctionName: 'api-looper', RecursiveLoop: 'Terminate' }),
    );
    expect(await run('api-looper', {})).toMatchObject({
      depth: 16,
      stoppedBy: 'RecursiveInvocationException',
    });

    expect(
      (await lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: 'allowed' }))).RecursiveLoop,
    ).toBe('Allow');
    const manifest = await fetch(`${serval.url}/2024-08-31/functions/looper/recursion-config`, {
      method: 'PUT',
      body: JSON.stringify({ RecursiveLoop: 'Allow' }),
    });
    expect(manifest.status).toBe(409);
    expect(manifest.headers.get('x-amzn-errortype')).toBe('ResourceConflictException');
    const bad = await fetch(`${serval.url}/2024-08-31/functions/api-looper/recursion-config`, {
      method: 'PUT',
      body: JSON.stringify({ RecursiveLoop: 'Sometimes' }),
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
    const missing = await fetch(`${serval.url}/2024-08-31/functions/nope/recursion-config`);
    expect(missing.status).toBe(404);
  }, 480_000);

  it('an async loop ends at the failure destination after 16 runs', async () => {
    const res = await serval.invoke('async-looper', { async: true }, { 'X-Amz-Invocation-Type': 'Event' });
    expect(res.status).toBe(202);
    const [failed] = await sink.waitFor('/async/failed', 1, 120_000);
    const record = JSON.parse(failed!.body);
    expect(record).toMatchObject({
      requestContext: { condition: 'RetriesExhausted' },
      requestPayload: { depth: 16, async: true },
      responseContext: { statusCode: 400 },
      responsePayload: { errorType: 'RecursiveInvocationException' },
    });
    // No retries: the stopped event was never run, and each of the 16 runs succeeded once.
    expect(record.requestContext.approximateInvokeCount).toBe(0);
    expect(await sink.waitFor('/async/ok', 16, 120_000)).toHaveLength(16);
  }, 240_000);

  it('a loop through a function destination is stopped too', async () => {
    const res = await serval.invoke('bouncer', {}, { 'X-Amz-Invocation-Type': 'Event' });
    expect(res.status).toBe(202);
    const [failed] = await sink.waitFor('/bouncer/failed', 1, 120_000);
    const record = JSON.parse(failed!.body);
    expect(record.responsePayload).toMatchObject({ errorType: 'RecursiveInvocationException' });
    // The stopped event is the 16th run's success record.
    expect(record.requestPayload).toMatchObject({ responsePayload: { depth: 16 } });
  }, 240_000);
});
