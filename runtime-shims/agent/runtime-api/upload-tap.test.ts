// The Runtime API's tap over real sockets, driven byte by byte as a runtime (or a hostile one) might: a
// streamed /response's data reaches the relay whatever the reads' boundaries, the connection carries on
// with the next request, and malformed or lying chunk framing gets Lambda's answers, never a crash.
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AgentMessage } from '../../../apis/environment-link.ts';
import { StreamRelay } from '../stream-relay.ts';
import { type RuntimeApiListener, RuntimeApiServer, type RuntimeOutcome } from './server.ts';

let server: RuntimeApiServer;
let port: number;
let outcomes: RuntimeOutcome[];
let relayed: Buffer[];
let messages: AgentMessage[];

beforeEach(async () => {
  outcomes = [];
  relayed = [];
  messages = [];
  const listener: RuntimeApiListener = {
    initComplete: () => {},
    initError: () => {},
    delivered: () => Date.now() + 60_000,
    outcome: (_id, o) => outcomes.push(o),
    responseStream: (id) =>
      new StreamRelay(id, (m, body) => {
        messages.push(m);
        if (m.type === 'stream-chunk')
          relayed.push(Buffer.concat(body instanceof Uint8Array ? [body] : (body ?? [])));
      }),
  };
  server = new RuntimeApiServer(listener, { maxStreamedBytes: 1024 * 1024 });
  port = await server.listen('127.0.0.1', 0);
});
afterEach(() => server.close());

/** A raw connection to the Runtime API, written piece by piece (a pause after each: a read of its own). */
class Runtime {
  readonly socket = connect(port, '127.0.0.1');
  text = '';
  closed = new Promise<void>((r) => this.socket.on('close', () => r()));

  constructor() {
    this.socket.on('data', (d) => {
      this.text += d;
    });
    this.socket.on('error', () => {});
  }

  async send(...parts: string[]): Promise<void> {
    for (const part of parts) {
      if (!this.socket.destroyed) this.socket.write(part);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Waits until `n` answers have come, or the connection closed. */
  async answers(n: number): Promise<string[]> {
    const deadline = Date.now() + 5000;
    while (answersIn(this.text).length < n && !this.socket.destroyed && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    return answersIn(this.text);
  }
}

const NEXT = 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n';
const STREAM_HEAD =
  'POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nHost: x\r\n' +
  'Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n' +
  'Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n';
const invocation = (requestId: string) => ({
  requestId,
  invokedFunctionArn: 'arn:aws:lambda:local:0:function:f',
});
const answersIn = (text: string) => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];

/** A runtime that took req-1 and is about to stream its response. */
async function streamingRuntime(): Promise<Runtime> {
  const runtime = new Runtime();
  server.enqueue(invocation('req-1'), Buffer.from('{}'));
  await runtime.send(NEXT);
  expect(await runtime.answers(1)).toEqual(['HTTP/1.1 200']);
  return runtime;
}

describe('the Runtime API tap', () => {
  it('relays data split anywhere across reads, reads the trailers, then serves the next request', async () => {
    const runtime = await streamingRuntime();
    await runtime.send(STREAM_HEAD.slice(0, 40), STREAM_HEAD.slice(40), '5;ext=1\r\nhel', 'lo\r\n');
    await runtime.send(
      'A\r\n0123456789\r',
      '\n0\r\nLambda-Runtime-Function-Error-Type: Function.X\r\n',
      '\r\n',
    );
    expect(await runtime.answers(2)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 202']);
    expect(Buffer.concat(relayed).toString()).toBe('hello0123456789');
    expect(outcomes).toMatchObject([{ kind: 'error', errorType: 'Function.X' }]);
    // The same connection goes on: the next invocation is delivered to its /next.
    await runtime.send(NEXT);
    server.enqueue(invocation('req-2'), Buffer.from('{}'));
    expect(await runtime.answers(3)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 202', 'HTTP/1.1 200']);
    runtime.socket.destroy();
  });

  it('takes a whole upload in one read, pipelined with the next request', async () => {
    const runtime = await streamingRuntime();
    await runtime.send(`${STREAM_HEAD}3\r\nabc\r\n0\r\n\r\nGET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(await runtime.answers(3)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 202', 'HTTP/1.1 200']);
    expect(runtime.text.endsWith('pong')).toBe(true);
    expect(Buffer.concat(relayed).toString()).toBe('abc');
    runtime.socket.destroy();
  });

  for (const [what, body, valid] of [
    ['a chunk size that is not hex', 'zz\r\nabc\r\n', 'x'],
    ['data longer than its size says', '2\r\nabcdef\r\n', 'xab'],
    ['a size line without its CRLF', '3\nabc\r\n', 'x'],
    ['a size of more digits than any body', `${'f'.repeat(40)}\r\n`, 'x'],
  ] as const)
    it(`answers ${what} with 400 and a truncated response, and serves on`, async () => {
      const runtime = await streamingRuntime();
      await runtime.send(STREAM_HEAD, '1\r\nx\r\n', body);
      await runtime.closed; // node:http refuses the body as it did before the tap, and hangs up
      expect(answersIn(runtime.text)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
      expect(Buffer.concat(relayed).toString()).toBe(valid); // what came before the fault
      expect(outcomes).toMatchObject([{ kind: 'error', errorType: 'Runtime.TruncatedResponse' }]);
      // The environment serves the next invocation over a new connection.
      const next = new Runtime();
      server.enqueue(invocation('req-2'), Buffer.from('{}'));
      await next.send(NEXT);
      expect(await next.answers(1)).toEqual(['HTTP/1.1 200']);
      next.socket.destroy();
    });

  it('a runtime that hangs up inside a chunk it announced sent a truncated response', async () => {
    const runtime = await streamingRuntime();
    await runtime.send(STREAM_HEAD, '100\r\nonly this');
    runtime.socket.end();
    await runtime.closed;
    await new Promise((r) => setTimeout(r, 50));
    expect(Buffer.concat(relayed).toString()).toBe('only this');
    expect(outcomes).toMatchObject([{ kind: 'error', errorType: 'Runtime.TruncatedResponse' }]);
  });

  it('past the limit: 413 however the sizes lie, and the connection is closed', async () => {
    const runtime = await streamingRuntime();
    const mib = 'a'.repeat(512 * 1024);
    await runtime.send(STREAM_HEAD, `fffffffff\r\n${mib}`, mib, mib);
    await runtime.closed;
    expect(answersIn(runtime.text)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 413']);
    expect(outcomes).toMatchObject([{ kind: 'error', errorType: 'Function.ResponseSizeTooLarge' }]);
    expect(Buffer.concat(relayed).length).toBeLessThanOrEqual(1024 * 1024);
  });

  for (const [what, id] of [
    ['another request id', 'req-9'],
    ['a request id that is not percent-encoding', '%E0%A4%A'],
  ] as const)
    it(`a streamed /response for ${what} is refused, and its body read past`, async () => {
      const runtime = await streamingRuntime();
      await runtime.send(STREAM_HEAD.replace('req-1', id), '3\r\nabc\r\n0\r\n\r\n');
      expect(await runtime.answers(2)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
      expect(relayed).toEqual([]);
      // The connection reads on: req-1's own response is taken.
      await runtime.send(STREAM_HEAD, '2\r\nok\r\n0\r\n\r\n');
      expect(await runtime.answers(3)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400', 'HTTP/1.1 202']);
      expect(Buffer.concat(relayed).toString()).toBe('ok');
      runtime.socket.destroy();
    });
});
