// peekRawBody on a real HTTP server: the body read for a check is read again, whole and unchanged, by the
// parser that comes after (Content-Length and chunked), and a body over the limit is refused.
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyTooLargeError, peekRawBody, readRawBody } from './raw-body.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

/** Serves one request: peeks with `limit`, then reads the body again as a route's parser would. */
async function roundTrip(send: (url: string) => Promise<void>, limit: number, reread = true) {
  const seen = new Promise<{ peeked: Buffer | Error; read?: Buffer; finished?: boolean }>((resolve) => {
    server = createServer(async (req: IncomingMessage, res) => {
      try {
        const peeked = await peekRawBody(req, limit);
        if (reread) resolve({ peeked, read: await readRawBody(req, 10 * limit) });
        else resolve({ peeked, finished: req.complete && !req.readable });
      } catch (err) {
        resolve({ peeked: err as Error });
      }
      res.end();
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  await send(`http://127.0.0.1:${(server!.address() as AddressInfo).port}/`);
  return seen;
}

function post(url: string, chunks: Buffer[], headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('peekRawBody', () => {
  const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));

  it('puts a Content-Length body back for the next reader', async () => {
    const r = await roundTrip(
      (url) => post(url, [body], { 'content-length': String(body.length) }),
      body.length,
    );
    expect(Buffer.compare(r.peeked as Buffer, body)).toBe(0);
    expect(Buffer.compare(r.read!, body)).toBe(0);
  });

  it('puts a chunked body, sent in pieces, back for the next reader', async () => {
    const pieces = [body.subarray(0, 10), body.subarray(10, 70_000), body.subarray(70_000)];
    const r = await roundTrip((url) => post(url, pieces), body.length);
    expect(Buffer.compare(r.read!, body)).toBe(0);
  });

  it('an empty chunked body ends the peek without a hang, and the stream is finished for parsers', async () => {
    const r = await roundTrip((url) => post(url, [], { 'transfer-encoding': 'chunked' }), 10, false);
    expect((r.peeked as Buffer).length).toBe(0);
    // body-parser skips a finished request (there is nothing to parse) instead of waiting for 'end'.
    expect(r.finished).toBe(true);
  });

  it('refuses a body over the limit, declared or streamed', async () => {
    const declared = await roundTrip(
      (url) => post(url, [body], { 'content-length': String(body.length) }).catch(() => {}),
      1000,
    );
    expect(declared.peeked).toBeInstanceOf(BodyTooLargeError);
    const streamed = await roundTrip((url) => post(url, [body]).catch(() => {}), 1000);
    expect(streamed.peeked).toBeInstanceOf(BodyTooLargeError);
  });
});
