// The fence around every gateway listener: a 'request' or 'upgrade' listener that throws ends one
// exchange, not the process (an escaped exception would fail this file as an unhandled error).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { exchange } from '../../../test/support/raw-socket.ts';
import { guardListener, listenerOptions } from './listener-guard.ts';

const TIMEOUTS = { headersTimeoutSeconds: 5, requestTimeoutSeconds: 5, bodyIdleTimeoutSeconds: 5 };
let server: Server | undefined;
afterEach(() => {
  server?.closeAllConnections();
  server?.close();
});

async function start(setup: (s: Server) => void): Promise<{ url: string; logged: string[] }> {
  const logged: string[] = [];
  server = guardListener(createServer(listenerOptions(TIMEOUTS)), TIMEOUTS, (l) => logged.push(l), 'test');
  setup(server);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, logged };
}

it('answers a bare 500 ServiceException when a request listener throws before answering', async () => {
  const { url, logged } = await start((s) =>
    s.on('request', (_req, res) => {
      res.setHeader('x-half', 'set');
      res.statusMessage = 'will be replaced';
      throw new Error('boom at /secret/path.ts:1');
    }),
  );
  const answer = await exchange(url, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(answer.status).toBe(500);
  expect(answer.text).toContain('{"Type":"Service","Message":"An internal error occurred"}');
  expect(answer.text).not.toContain('x-half');
  expect(answer.text).not.toContain('secret');
  expect(logged.join('\n')).toContain('boom');
});

it('cuts the connection when a request listener throws after the answer started', async () => {
  const { url } = await start((s) =>
    s.on('request', (_req, res) => {
      res.writeHead(200, { 'Content-Length': '10' });
      res.write('part');
      throw new Error('late');
    }),
  );
  const answer = await exchange(url, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  // A cut connection: no second status line, and never the promised 10 bytes.
  expect(answer.closed).toBe(true);
  expect(answer.text).not.toContain('500');
  expect(answer.text).not.toMatch(/\r\n\r\n.{10}/s);
});

it('destroys the socket when an upgrade listener throws', async () => {
  const { url } = await start((s) =>
    s.on('upgrade', () => {
      throw new Error('upgrade boom');
    }),
  );
  const answer = await exchange(
    url,
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  expect(answer.closed).toBe(true);
  // The server still serves.
  const again = await exchange(
    url,
    'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
  );
  expect(again.closed).toBe(true);
});

it('answers an unparsable request with a bare 400', async () => {
  const { url } = await start((s) => s.on('request', (_req, res) => res.end('ok')));
  const answer = await exchange(url, 'NOT HTTP\r\n\r\n');
  expect(answer.text).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
});
