// The streamed /response reader over real HTTP, relaying into the agent's real StreamRelay: chunks in
// order, trailers, the credit window held however fast the runtime uploads, the size limit, truncation.
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { STREAM_WINDOW_BYTES } from '../../../apis/environment-link.ts';
import { StreamRelay } from '../stream-relay.ts';
import { relayStreamedBody, type StreamedRead } from './streamed-body.ts';

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

/** A gateway that grants credit only once the reader waits for it: a reader ignoring the window never gets any. */
function stingyGateway() {
  const sent: Buffer[] = [];
  let outstanding = 0;
  let maxOutstanding = 0;
  const relay = new StreamRelay('req-1', (message, body) => {
    if (message.type !== 'stream-chunk') return;
    const frame = Buffer.concat(body instanceof Uint8Array ? [body] : body!);
    sent.push(frame);
    outstanding += frame.length;
    maxOutstanding = Math.max(maxOutstanding, outstanding);
  });
  const writable = relay.writable.bind(relay);
  relay.writable = () => {
    setImmediate(() => {
      relay.grant(outstanding);
      outstanding = 0;
    });
    return writable();
  };
  return { relay, sent, maxOutstanding: () => maxOutstanding };
}

/** Serves one streamed upload into `relay`; resolves with what the reader made of it. */
async function upload(
  relay: StreamRelay,
  send: (req: ReturnType<typeof request>) => void,
  limit?: number,
): Promise<StreamedRead> {
  let read: Promise<StreamedRead> | undefined;
  const arrived = new Promise<IncomingMessage>((resolve) => {
    server = createServer((req, res) => {
      read = relayStreamedBody(req, relay, limit);
      void read.then(() => res.end());
      resolve(req);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server!.address() as AddressInfo;
  const req = request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path: '/',
    headers: {
      'Transfer-Encoding': 'chunked',
      Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
    },
  });
  req.on('error', () => {});
  req.flushHeaders();
  send(req);
  await arrived;
  return read!;
}

describe('relayStreamedBody', () => {
  it('relays every chunk in order and reads the error trailers', async () => {
    const { relay, sent } = stingyGateway();
    const read = await upload(relay, (req) => {
      req.write('one ');
      req.write('two');
      req.addTrailers({
        'Lambda-Runtime-Function-Error-Type': 'Function.Broke',
        'Lambda-Runtime-Function-Error-Body': Buffer.from('{"errorMessage":"x"}').toString('base64'),
      });
      req.end();
    });
    expect(Buffer.concat(sent).toString()).toBe('one two');
    expect(read).toMatchObject({ kind: 'ok', bytes: 7, errorType: 'Function.Broke' });
    expect(read.kind === 'ok' && read.errorBody.toString()).toBe('{"errorMessage":"x"}');
  });

  it('keeps what is in flight within the credit window however fast the runtime writes', async () => {
    const { relay, sent, maxOutstanding } = stingyGateway();
    const total = 8 * STREAM_WINDOW_BYTES;
    const read = await upload(relay, (req) => {
      const chunk = Buffer.alloc(16 * 1024, 0x62);
      for (let i = 0; i < total / chunk.length; i++) req.write(chunk);
      req.end();
    });
    expect(read).toMatchObject({ kind: 'ok', bytes: total });
    expect(Buffer.concat(sent).length).toBe(total);
    // One socket read (64 KiB at most) may cross the window before the reader pauses.
    expect(maxOutstanding()).toBeLessThanOrEqual(STREAM_WINDOW_BYTES + 64 * 1024);
  });

  it('stops relaying past the limit', async () => {
    const { relay, sent } = stingyGateway();
    const read = await upload(
      relay,
      (req) => {
        req.write(Buffer.alloc(300 * 1024));
        req.write(Buffer.alloc(300 * 1024));
        req.end();
      },
      512 * 1024,
    );
    expect(read.kind).toBe('too-large');
    expect(Buffer.concat(sent).length).toBeLessThanOrEqual(512 * 1024);
  });

  it('a runtime that hangs up mid-stream sent a truncated response', async () => {
    const { relay } = stingyGateway();
    const read = await upload(relay, (req) => {
      req.write('partial', () => req.destroy());
    });
    expect(read.kind).toBe('truncated');
  });

  it('drops chunks once cancelled, and still reads the body to its end', async () => {
    const { relay, sent } = stingyGateway();
    relay.cancel();
    const read = await upload(relay, (req) => {
      req.write(Buffer.alloc(3 * STREAM_WINDOW_BYTES));
      req.end();
    });
    expect(read).toMatchObject({ kind: 'ok', bytes: 3 * STREAM_WINDOW_BYTES });
    expect(sent).toEqual([]);
  });
});
