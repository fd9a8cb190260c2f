// The gateway's WebSocket end of the link against the agent's real client (`ws`) and against raw frames
// cut at every byte, over a real HTTP upgrade on loopback.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type AgentMessage, encodeFrame } from '../../../apis/environment-link.ts';
import { LinkMessageReader } from './link-messages.ts';
import { acceptWebSocket, LinkSocket, type MessagePieces } from './link-socket.ts';

interface Received {
  messages: Buffer[];
  pieces: number;
  closed: Promise<[number, string]>;
  link: Promise<LinkSocket>;
}

let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

async function listen(
  maxMessageBytes = 64 * 1024 * 1024,
): Promise<{ url: string; port: number; got: Received }> {
  let current: Buffer[] = [];
  let resolveLink!: (l: LinkSocket) => void;
  let resolveClosed!: (c: [number, string]) => void;
  const got: Received = {
    messages: [],
    pieces: 0,
    link: new Promise((r) => {
      resolveLink = r;
    }),
    closed: new Promise((r) => {
      resolveClosed = r;
    }),
  };
  const pieces: MessagePieces = {
    data: (piece) => {
      got.pieces++;
      current.push(Buffer.from(piece));
    },
    end: () => {
      got.messages.push(Buffer.concat(current));
      current = [];
    },
  };
  server = createServer();
  server.on('upgrade', (req, socket, head) => {
    if (!acceptWebSocket(req, socket)) {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const link = new LinkSocket(socket, head, pieces, maxMessageBytes);
    link.onClose((code, reason) => resolveClosed([code, reason.toString()]));
    resolveLink(link);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `ws://127.0.0.1:${port}/link`, port, got };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
};

it('reads a fragmented, randomly masked message from the ws client whole and in order', async () => {
  const { url, got } = await listen();
  const client = new WebSocket(url);
  await once(client, 'open');
  const parts = [Buffer.alloc(70_000, 1), Buffer.alloc(3, 2), Buffer.alloc(1024 * 1024, 3)];
  for (const [i, part] of parts.entries()) client.send(part, { fin: i === parts.length - 1 });
  client.send(Buffer.from('second'));
  await until(() => got.messages.length === 2);
  expect(got.messages[0]!.equals(Buffer.concat(parts))).toBe(true);
  expect(got.messages[1]!.toString()).toBe('second');
  expect(got.pieces).toBeGreaterThan(3); // handed on as read, not joined
  client.terminate();
});

it('sends messages the ws client reads, answers its ping, and closes with the code and reason', async () => {
  const { url, got } = await listen();
  const client = new WebSocket(url);
  await once(client, 'open');
  const link = await got.link;
  const received = once(client, 'message');
  link.send([Buffer.from('he'), Buffer.from('llo')]);
  expect(String((await received)[0])).toBe('hello');
  const pong = once(client, 'pong');
  client.ping(Buffer.from('p'));
  expect(String((await pong)[0])).toBe('p');
  const clientClosed = once(client, 'close');
  link.close(1000, 'bye');
  const [code, reason] = await clientClosed;
  expect([code, String(reason)]).toEqual([1000, 'bye']);
  expect((await got.closed)[0]).toBe(1000);
});

it("reports the agent's close code and reason", async () => {
  const { url, got } = await listen();
  const client = new WebSocket(url);
  await once(client, 'open');
  client.close(4001, 'init failed');
  expect(await got.closed).toEqual([4001, 'init failed']);
});

/** A raw client: the handshake by hand, then whatever bytes the test writes. */
async function rawClient(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'GET /link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  let answer = '';
  while (!answer.includes('\r\n\r\n')) answer += String((await once(socket, 'data'))[0]);
  expect(answer).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  return socket;
}

const maskedFrame = (opcode: number, payload: Buffer, mask = Buffer.from([1, 2, 3, 4]), fin = true) => {
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]!));
  const length =
    payload.length < 126
      ? Buffer.from([payload.length | 0x80])
      : Buffer.from([126 | 0x80, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode]), length, mask, masked]);
};

it('reads frames cut at every byte, with a ping between the fragments of a message', async () => {
  const { port, got } = await listen();
  const socket = await rawClient(port);
  const body = Buffer.from('x'.repeat(300));
  const bytes = Buffer.concat([
    maskedFrame(0x2, body.subarray(0, 200), undefined, false),
    maskedFrame(0x9, Buffer.from('ping')),
    maskedFrame(0x0, body.subarray(200)),
  ]);
  for (const byte of bytes) socket.write(Buffer.from([byte]));
  await until(() => got.messages.length === 1);
  expect(got.messages[0]!.equals(body)).toBe(true);
  socket.destroy();
});

it.each([
  ['an unmasked frame', Buffer.from([0x82, 0x01, 0x61]), 1002],
  ['a text frame', maskedFrame(0x1, Buffer.from('hi')), 1003],
  ['a continuation with no message', maskedFrame(0x0, Buffer.from('hi')), 1002],
  ['a message over the limit', maskedFrame(0x2, Buffer.alloc(200)), 1009],
])('closes the link on %s', async (_name, frame, code) => {
  const { port, got } = await listen(100);
  const socket = await rawClient(port);
  const answer: Buffer[] = [];
  socket.on('data', (d: Buffer) => answer.push(d));
  socket.write(frame);
  await once(socket, 'end');
  const close = Buffer.concat(answer);
  expect(close[0]).toBe(0x88); // a close frame, then the end of the stream
  expect(close.readUInt16BE(2)).toBe(code);
  socket.destroy();
  expect((await got.closed)[0]).toBe(code);
});

it('reads link messages whose header and body are split anywhere, a streamed chunk piece by piece', () => {
  const whole: Array<[string, string]> = [];
  const chunks: string[] = [];
  const reader = new LinkMessageReader({
    message: (header, body) => whole.push([header.type, body.toString()]),
    chunk: (header, piece) => chunks.push(`${header.requestId}:${piece}`),
  });
  const feed = (frame: Buffer, cuts: number[]) => {
    let at = 0;
    for (const cut of [...cuts, frame.length]) {
      reader.data(frame.subarray(at, cut));
      at = cut;
    }
    reader.end();
  };
  const result = { type: 'ready' } as AgentMessage;
  feed(encodeFrame(result, Buffer.from('body')), [1, 3, 9]);
  const chunk = encodeFrame({ type: 'stream-chunk', requestId: 'r' }, Buffer.from('abcdef'));
  feed(chunk, [2, chunk.length - 4]);
  expect(whole).toEqual([['ready', 'body']]);
  expect(chunks).toEqual(['r:ab', 'r:cdef']);
});
