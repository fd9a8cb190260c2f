// The Runtime API server's streaming mode over real HTTP, as a runtime drives it: which uploads stream,
// what the runtime is answered, and what outcome the environment learns (the listener is ours to record).
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentMessage } from '../../../apis/environment-link.ts';
import { StreamRelay } from '../stream-relay.ts';
import { type RuntimeApiListener, RuntimeApiServer, type RuntimeOutcome } from './server.ts';

const LIMIT = 1024 * 1024;
let server: RuntimeApiServer;
let port: number;
let outcomes: RuntimeOutcome[];
let relayed: AgentMessage[];

beforeEach(async () => {
  outcomes = [];
  relayed = [];
  const listener: RuntimeApiListener = {
    initComplete: () => {},
    initError: () => {},
    delivered: () => Date.now() + 60_000,
    outcome: (_id, o) => outcomes.push(o),
    responseStream: (id) => new StreamRelay(id, (m) => relayed.push(m)),
  };
  server = new RuntimeApiServer(listener, { maxStreamedBytes: LIMIT });
  port = await server.listen('127.0.0.1', 0);
});
afterEach(() => server.close());

function call(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  write?: (req: ReturnType<typeof request>) => void,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: `/2018-06-01${path}`, headers }, (res) => {
      let body = '';
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    if (write) write(req);
    else req.end();
  });
}

/** Takes one invocation the way a runtime does, and returns its request id. */
async function nextInvocation(): Promise<string> {
  const next = call('GET', '/runtime/invocation/next');
  server.enqueue(
    { requestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:local:0:function:f' },
    Buffer.from('{}'),
  );
  await next;
  return 'req-1';
}

const STREAMING = {
  'Lambda-Runtime-Function-Response-Mode': 'streaming',
  'Transfer-Encoding': 'chunked',
  Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
};
const chunkCount = () => relayed.filter((m) => m.type === 'stream-chunk').length;

describe('streamed /response', () => {
  it('past the limit: 413 to the runtime, Function.ResponseSizeTooLarge to the caller', async () => {
    const id = await nextInvocation();
    const reply = await call('POST', `/runtime/invocation/${id}/response`, STREAMING, (req) => {
      req.on('error', () => {}); // the server may close the upload once it has answered
      for (let i = 0; i < 3; i++) req.write(Buffer.alloc(LIMIT / 2));
      req.end();
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual({
      errorType: 'RequestEntityTooLarge',
      errorMessage: `Exceeded maximum allowed payload size (${LIMIT} bytes).`,
    });
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ kind: 'error', errorType: 'Function.ResponseSizeTooLarge' });
    expect(relayed[0]).toMatchObject({ type: 'stream-start' });
    expect(chunkCount()).toBeGreaterThan(0);
  });

  it('an error in trailers is the outcome, after the chunks relayed', async () => {
    const id = await nextInvocation();
    const reply = await call('POST', `/runtime/invocation/${id}/response`, STREAMING, (req) => {
      req.write('partial');
      req.addTrailers({
        'Lambda-Runtime-Function-Error-Type': 'Function.Broke',
        'Lambda-Runtime-Function-Error-Body': Buffer.from('{"errorMessage":"m"}').toString('base64'),
      });
      req.end();
    });
    expect(reply.status).toBe(202);
    expect(outcomes[0]).toMatchObject({ kind: 'error', errorType: 'Function.Broke' });
    expect(outcomes[0]!.body.toString()).toBe('{"errorMessage":"m"}');
  });

  it('streams an upload that declares the error trailers without the mode header (aws-lambda-go)', async () => {
    const id = await nextInvocation();
    const { 'Lambda-Runtime-Function-Response-Mode': _, ...goHeaders } = STREAMING;
    await call(
      'POST',
      `/runtime/invocation/${id}/response`,
      { ...goHeaders, 'Content-Type': 'application/vnd.awslambda.http-integration-response' },
      (req) => req.end('{"statusCode":200}\0\0\0\0\0\0\0\0body'),
    );
    expect(relayed.map((m) => m.type)).toEqual(['stream-start', 'stream-chunk']);
    expect(outcomes[0]).toMatchObject({ kind: 'response' });
  });

  it('buffers the same upload when it is JSON (aws-lambda-go answers every result that way)', async () => {
    const id = await nextInvocation();
    const { 'Lambda-Runtime-Function-Response-Mode': _, ...goHeaders } = STREAMING;
    await call(
      'POST',
      `/runtime/invocation/${id}/response`,
      { ...goHeaders, 'Content-Type': 'application/json' },
      (req) => req.end('{"ok":true}'),
    );
    expect(relayed).toEqual([]);
    expect(outcomes[0]).toMatchObject({ kind: 'response' });
    expect(outcomes[0]!.body.toString()).toBe('{"ok":true}');
  });

  it('refuses another response mode', async () => {
    const id = await nextInvocation();
    const reply = await call('POST', `/runtime/invocation/${id}/response`, {
      'Lambda-Runtime-Function-Response-Mode': 'trickle',
    });
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).errorType).toBe('InvalidFunctionResponseMode');
    expect(outcomes[0]).toMatchObject({ errorType: 'Runtime.InvalidResponseModeHeader' });
  });
});
