// Environment management in the local provider: idle reaping, and the link credential.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { EnvironmentSpec } from '../../apis/environment-link.ts';
import { LinkServer } from '../../gateway/src/runtime-link/link-server.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

describe('idle environments', () => {
  let serval: TestServal;
  beforeAll(async () => {
    serval = await startServal({
      functions: [{ name: 'probe', runtime: 'provided', codePath: fixture('provided/protocol-probe') }],
      config: { idleTimeoutSeconds: 1 },
    });
  });
  afterAll(() => serval.stop());

  it('are reused while warm and reaped after the idle timeout', async () => {
    const first = (await serval.invoke('probe', { scenario: 'pid' })).json() as { runtime: string };
    const warm = await serval.invoke('probe', { scenario: 'pid' });
    expect((warm.json() as { runtime: string }).runtime).toBe(first.runtime);
    expect(warm.logTail).not.toContain('Init Duration');
    await new Promise((r) => setTimeout(r, 2200));
    const cold = await serval.invoke('probe', { scenario: 'pid' });
    expect((cold.json() as { runtime: string }).runtime).not.toBe(first.runtime);
    expect(cold.logTail).toContain('Init Duration');
  });
});

describe('environment link credentials', () => {
  const server = createServer();
  const links = new LinkServer(server);
  let base = '';
  const spec = { environmentId: 'env-1' } as EnvironmentSpec;
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    links.close();
    server.close();
  });

  const attempt = (id: string, token: string) =>
    new Promise<number | 'open'>((resolve) => {
      const ws = new WebSocket(`${base}${links.linkPath(id)}`, {
        headers: { Authorization: `Bearer ${token}` },
      });
      ws.once('open', () => {
        ws.close();
        resolve('open');
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => {});
    });

  it('admits only the environment its credential was issued for, and only once', async () => {
    let linked = 0;
    links.expect(spec, 'secret-token-for-env-1', () => linked++);
    expect(await attempt('env-1', 'wrong-token-of-same-len')).toBe(401);
    expect(await attempt('env-2', 'secret-token-for-env-1')).toBe(401);
    expect(await attempt('env-1', 'secret-token-for-env-1')).toBe('open');
    expect(linked).toBe(1);
    expect(await attempt('env-1', 'secret-token-for-env-1')).toBe(401); // used up
  });
});
