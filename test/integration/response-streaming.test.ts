// Response streaming end to end (reference §1.3, §14.5) on the real gateway and the real Node runtime:
// RESPONSE_STREAM function URLs read incrementally by a client, InvokeWithResponseStream through the
// unmodified AWS SDK v3, mid-stream errors, a malformed prelude, timeouts, disconnects and a 100 MB body.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type IncomingMessage, request } from 'node:http';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { InvokeWithResponseStreamCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { readResponseStream, servalLambdaClient } from '../support/lambda-client.ts';
import { fixture, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

// A full collection on demand, for the memory check (the flag is read when a context is created).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let serval: TestServal;
let lambda: LambdaClient;
/** A copy of the fixture's code: the test drops signal files into it, which the handler polls for. */
let codeDir: string;
const streaming = { url: { invokeMode: 'RESPONSE_STREAM' } };

beforeAll(async () => {
  codeDir = mkdtempSync(join(testDataRoot(), 'stream-code-'));
  cpSync(fixture('node', 'stream-url'), codeDir, { recursive: true });
  const fn = (name: string, more: Record<string, unknown> = {}) => ({
    name,
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    codePath: codeDir,
    // Far beyond what any stream here needs, even on a machine so loaded 100 MB takes a minute.
    timeoutSeconds: 600,
    spec: streaming,
    ...more,
  });
  serval = await startServal({
    functions: [
      fn('stream'),
      fn('stream-short', { timeoutSeconds: 2 }),
      // One environment only: a disconnect that did not free it would leave the next call waiting.
      fn('stream-single'),
      {
        name: 'buffered',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'echo-esm'),
        spec: streaming,
      },
    ],
    // Long enough for any stall to show as a failed call rather than a slow one.
    config: { maxEnvironmentsPerFunction: 1, environmentStartTimeoutSeconds: 90 },
  });
  lambda = servalLambdaClient(serval.url);
});
afterAll(async () => {
  lambda?.destroy();
  await serval?.stop();
  rmSync(codeDir, { recursive: true, force: true });
});

const urlPath = (name: string, query: string) =>
  `/lambda-url/${functionUrlId('default', name, '$LATEST')}/?${query}`;

/** A `pattern` body: its bytes before the trailing hex SHA-256 the handler computed, and whether they match it. */
function hashAndDigest(all: Buffer): { bytes: number; intact: boolean } {
  const body = all.subarray(0, all.length - 64);
  const digest = all.subarray(all.length - 64).toString();
  return { bytes: body.length, intact: createHash('sha256').update(body).digest('hex') === digest };
}

/** Opens a function URL request and hands back the response as soon as its head arrives. */
function open(path: string): Promise<IncomingMessage> {
  const url = new URL(serval.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path }, resolve);
    req.on('error', reject);
    req.end();
  });
}

/** Reads until `text` has arrived (or the response ends), returning what came so far. */
function readUntil(res: IncomingMessage, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer) => {
      got += c.toString('latin1');
      if (got.includes(text)) done();
    };
    const done = () => {
      res.off('data', onData);
      res.pause();
      resolve(got);
    };
    res.on('data', onData);
    res.on('end', done);
    res.on('error', reject);
  });
}

/** Reads to the end; `complete` is false when the connection was cut before the last chunk. */
function readAll(res: IncomingMessage): Promise<{ body: string; complete: boolean }> {
  return new Promise((resolve) => {
    let body = '';
    res.on('data', (c: Buffer) => {
      body += c.toString('latin1');
    });
    res.on('end', () => resolve({ body, complete: res.complete }));
    res.on('error', () => resolve({ body, complete: false }));
    res.on('aborted', () => resolve({ body, complete: false }));
  });
}

const countOf = async (name: string) => {
  const res = await fetch(`${serval.url}${urlPath(name, 'mode=count')}`);
  return Number(await res.text());
};

describe('function URL with invokeMode RESPONSE_STREAM', () => {
  it('streams SSE: status, headers and cookies from the prelude, the first event while the handler still runs', async () => {
    const res = await open(urlPath('stream', 'mode=sse&id=sse1'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['set-cookie']).toEqual(['s=1']);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    // The handler cannot finish before the signal file exists, and the file is written only now.
    const first = await readUntil(res, '\n\n');
    expect(first).toBe('data: first\n\n');
    writeFileSync(join(codeDir, 'signal-sse1'), '');
    res.resume();
    const rest = await readAll(res);
    expect(rest).toEqual({ body: 'data: second\n\n', complete: true });
  });

  it('a stream without a prelude is a 200 of the runtime content type', async () => {
    const res = await open(urlPath('stream', 'mode=plain'));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain');
    expect(await readAll(res)).toEqual({ body: 'one two three', complete: true });
  });

  it('a mid-stream error cuts the connection after the bytes already sent', async () => {
    const res = await open(urlPath('stream', 'mode=fail-mid'));
    expect(res.statusCode).toBe(200);
    expect(await readAll(res)).toEqual({ body: 'partial ', complete: false });
    // The log comes over its own pipe, and may trail the answer.
    await expect.poll(() => serval.logs('stream').join('\n')).toContain('stream broke');
  });

  it('a malformed prelude is a 502', async () => {
    const res = await fetch(`${serval.url}${urlPath('stream', 'mode=bad-prelude')}`);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('Internal Server Error');
  });

  it('the function timeout ends the stream, and the next call gets a fresh environment', async () => {
    const res = await open(urlPath('stream-short', 'mode=hang'));
    expect(await readAll(res)).toEqual({ body: 'started ', complete: false });
    await expect
      .poll(() => serval.logs('stream-short').join('\n'))
      .toContain('Task timed out after 2.00 seconds');
    expect(await countOf('stream-short')).toBe(1);
  });

  it('a stream the handler abandons (returns without ending it) is cut, and the environment serves on', async () => {
    const res = await open(urlPath('stream-short', 'mode=abandon'));
    expect(res.statusCode).toBe(200);
    expect(await readAll(res)).toEqual({ body: 'abandoned ', complete: false });
    expect(Number.isInteger(await countOf('stream-short'))).toBe(true);
  });

  it('a client that disconnects mid-stream frees the environment: the next call is warm', async () => {
    expect(await countOf('stream-single')).toBe(1);
    // 50 MB, far beyond the credit window: without the cancel the handler would stall on backpressure.
    const res = await open(urlPath('stream-single', 'mode=big&mb=50'));
    expect(res.statusCode).toBe(200);
    await readUntil(res, 'a');
    res.destroy();
    // The pool has a single environment, so this call waits for the one the stream held.
    expect(await countOf('stream-single')).toBe(3);
  }, 180_000);

  it('streams 100 MB with the gateway memory flat', async () => {
    const res = await open(urlPath('stream', 'mode=big&mb=100'));
    expect(res.statusCode).toBe(200);
    // Live memory after a full collection, so garbage awaiting the collector does not count.
    const live = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = live();
    let peak = before;
    let bytes = 0;
    let nextSample = 0;
    res.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes < nextSample) return;
      nextSample += 8 * 1024 * 1024;
      peak = Math.max(peak, live());
    });
    await new Promise<void>((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
    });
    expect(bytes).toBe(100 * 1024 * 1024);
    expect(res.complete).toBe(true);
    // The gateway runs in this process; a buffered body adds 100 MB (a client keeping the chunks measured
    // 99.7 MB here), a relayed one is flat but for socket reads caught in flight (up to 30 MB seen).
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
  }, 600_000);

  it('streams bytes of varied chunks intact (the link reads into a reused buffer)', async () => {
    const res = await open(urlPath('stream', 'mode=pattern&mb=24'));
    expect(res.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    let unread = 0;
    for await (const chunk of res) {
      chunks.push(chunk as Buffer);
      // Now and then the client stalls, so the gateway's socket fills and its writes wait for the client.
      unread += (chunk as Buffer).length;
      if (unread < 2 * 1024 * 1024) continue;
      unread = 0;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(hashAndDigest(Buffer.concat(chunks))).toEqual({ bytes: 24 * 1024 * 1024, intact: true });
  }, 600_000);

  it('a function that answers buffered is answered as on a BUFFERED URL', async () => {
    const res = await fetch(`${serval.url}/lambda-url/${functionUrlId('default', 'buffered', '$LATEST')}/x`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { rawPath: string }).rawPath).toBe('/x');
  });
});

describe('InvokeWithResponseStream through the unmodified AWS SDK v3', () => {
  it('reads PayloadChunk events and a clean InvokeComplete', async () => {
    const out = await lambda.send(
      new InvokeWithResponseStreamCommand({
        FunctionName: 'stream',
        Payload: JSON.stringify({ mode: 'plain' }),
        LogType: 'Tail',
      }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.ExecutedVersion).toBe('$LATEST');
    const { body, complete } = await readResponseStream(out);
    expect(body).toBe('one two three');
    expect(complete?.ErrorCode).toBeUndefined();
    expect(Buffer.from(complete!.LogResult!, 'base64').toString()).toMatch(/^REPORT RequestId: /m);
  });

  it('streams bytes of varied chunks intact', async () => {
    const out = await lambda.send(
      new InvokeWithResponseStreamCommand({
        FunctionName: 'stream',
        Payload: JSON.stringify({ mode: 'pattern', mb: 8, raw: true }),
      }),
    );
    const chunks: Uint8Array[] = [];
    for await (const event of out.EventStream!)
      if (event.PayloadChunk?.Payload) chunks.push(event.PayloadChunk.Payload);
    expect(hashAndDigest(Buffer.concat(chunks))).toEqual({ bytes: 8 * 1024 * 1024, intact: true });
  }, 600_000);

  it('the first chunk arrives while the handler still runs', async () => {
    const out = await lambda.send(
      new InvokeWithResponseStreamCommand({
        FunctionName: 'stream',
        Payload: JSON.stringify({ mode: 'sse', id: 'sdk1' }),
      }),
    );
    const events = out.EventStream![Symbol.asyncIterator]();
    // InvokeWithResponseStream passes the bytes as written: the HTTP-integration prelude comes first.
    let sofar = '';
    while (!sofar.includes('data: first')) {
      const e = await events.next();
      expect(e.done).toBe(false);
      sofar += Buffer.from(e.value.PayloadChunk?.Payload ?? []).toString();
    }
    expect(sofar).toMatch(/^\{"statusCode":200,.*\}\0{8}data: first\n\n$/s);
    writeFileSync(join(codeDir, 'signal-sdk1'), '');
    const rest: string[] = [];
    for (let e = await events.next(); !e.done; e = await events.next()) {
      if (e.value.PayloadChunk?.Payload) rest.push(Buffer.from(e.value.PayloadChunk.Payload).toString());
    }
    expect(rest.join('')).toContain('data: second');
  });

  it('a mid-stream error: the chunks already written, then InvokeComplete with the error', async () => {
    const out = await lambda.send(
      new InvokeWithResponseStreamCommand({ FunctionName: 'stream', Payload: '{"mode":"fail-mid"}' }),
    );
    const { body, complete } = await readResponseStream(out);
    expect(body).toBe('partial ');
    expect(complete).toMatchObject({ ErrorCode: 'Error', ErrorDetails: 'stream broke' });
  });

  it('a buffered function arrives as one PayloadChunk', async () => {
    const out = await lambda.send(
      new InvokeWithResponseStreamCommand({ FunctionName: 'buffered', Payload: '{"a":1}' }),
    );
    const { body, complete } = await readResponseStream(out);
    expect(JSON.parse(body)).toEqual({ a: 1 });
    expect(complete?.ErrorCode).toBeUndefined();
  });

  it('an unknown function is a ResourceNotFoundException, not a stream', async () => {
    await expect(
      lambda.send(new InvokeWithResponseStreamCommand({ FunctionName: 'nope', Payload: '{}' })),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('Invoke (buffered) of a streaming handler returns the whole body', async () => {
    const res = await serval.invoke('stream', { mode: 'plain' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('one two three');
  });
});
