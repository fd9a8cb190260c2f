// Finding 1 (issue #11): one request on the internal listener (`GET //`, `//%FF`, with or without
// Upgrade) ended the whole gateway. No request on any listener — front door, internal, metrics — may.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayProcess, startGatewayProcess } from '../support/gateway-process.ts';
import { exchange } from '../support/raw-socket.ts';

let gw: GatewayProcess;
beforeAll(async () => {
  gw = await startGatewayProcess({});
});
afterAll(() => gw.stop());

const UPGRADE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n';
const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
const targets = ['//', '//%FF', '//x/y', '///', '/%', '//serval/internal/v1/environments', '*', 'http://[/'];
const probes = targets.flatMap((target) => [
  `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`,
  `GET ${target} HTTP/1.1\r\nHost: x\r\n${UPGRADE}${KEY}\r\n`,
  `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`,
]);
// Bytes no HTTP parser accepts: the 'clientError' path.
const garbage = [
  '\x00\x01\x02\r\n\r\n',
  'GET / HTTP/9.9\r\n\r\n',
  'GET / HTTP/1.1\r\nHost: x\r\nBad\x7fHeader: 1\r\n\r\n',
];

describe.each([
  ['internal', () => gw.internalUrl],
  ['front door', () => gw.url],
  ['metrics', () => gw.metricsUrl],
])('the %s listener', (_name, url) => {
  it.each([...probes, ...garbage])('survives %j', async (bytes) => {
    const answer = await exchange(url(), bytes, { waitMs: 5_000, enough: (t) => t.includes('\r\n\r\n') });
    expect(answer.status, answer.text).toBeGreaterThanOrEqual(400);
    expect(answer.status, answer.text).toBeLessThan(500);
    expect(gw.exited(), gw.stderr()).toBeUndefined();
  });
});

it('still serves after every probe', async () => {
  const health = await fetch(`${gw.internalUrl}/healthz`);
  expect(health.status).toBe(200);
  expect((await fetch(`${gw.metricsUrl}/metrics`)).status).toBe(200);
  expect(gw.exited(), gw.stderr()).toBeUndefined();
});
