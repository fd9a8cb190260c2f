// The agent's link frames on the wire, read by a gateway stand-in that speaks WebSocket by hand: they carry
// the mask bit with an all-zero key (ADR-38), so neither side spends CPU masking a streamed response.
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { afterEach, expect, it } from 'vitest';
import { encodeFrame } from '../../apis/environment-link.ts';
import { readAgentConfig } from './config.ts';
import { connectUpstream } from './upstream-link.ts';

let server: Server | undefined;
afterEach(() => server?.close());

/** Accepts one WebSocket handshake and resolves with the raw socket and the bytes after it. */
function acceptOne(): Promise<{ port: number; socket: Promise<Socket> }> {
  return new Promise((listening) => {
    let opened: (s: Socket) => void;
    const socket = new Promise<Socket>((r) => (opened = r));
    server = createServer((conn) => {
      let head = '';
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        conn.off('data', onData);
        const key = /sec-websocket-key: *(\S+)/i.exec(head)![1]!;
        const accept = createHash('sha1')
          .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
          .digest('base64');
        conn.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        opened(conn);
      };
      conn.on('data', onData);
    });
    server.listen(0, '127.0.0.1', () => {
      const address = server!.address();
      listening({ port: typeof address === 'object' && address ? address.port : 0, socket });
    });
  });
}

/** An unmasked binary frame from the "gateway" (payload under 64 KiB). */
function serverFrame(payload: Buffer): Buffer {
  const head =
    payload.length < 126
      ? Buffer.from([0x82, payload.length])
      : Buffer.from([0x82, 126, payload.length >> 8, payload.length & 0xff]);
  return Buffer.concat([head, payload]);
}

it('sends its frames masked with an all-zero key', async () => {
  const { port, socket } = await acceptOne();
  const config = readAgentConfig(
    {
      SERVAL_LINK_URL: `ws://127.0.0.1:${port}/agent/v1/environments/e-1/link`,
      SERVAL_ENVIRONMENT_TOKEN: 'token',
    },
    tmpdir(),
  );
  const link = connectUpstream(config, () => {});
  const conn = await socket;
  const received: Buffer[] = [];
  conn.on('data', (d: Buffer) => received.push(d));
  // The agent answers a shutdown with a close frame carrying the reason: a client frame like any other.
  conn.write(serverFrame(encodeFrame({ type: 'shutdown', reason: 'bye' })));
  await expect.poll(() => Buffer.concat(received).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(6);
  const frame = Buffer.concat(received);
  expect(frame[0]).toBe(0x88); // FIN + close
  expect(frame[1]! & 0x80).toBe(0x80); // masked, as RFC 6455 wants of a client
  const length = frame[1]! & 0x7f;
  expect([...frame.subarray(2, 6)]).toEqual([0, 0, 0, 0]); // with a zero key: the payload is as sent
  const payload = frame.subarray(6, 6 + length);
  expect(payload.readUInt16BE(0)).toBe(1000);
  expect(payload.subarray(2).toString()).toBe('bye');
  conn.destroy(); // no closing handshake: the agent sees the link go
  await link.closed;
});
