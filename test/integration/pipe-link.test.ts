// A local agent's link is a pipe handed to the gateway when the agent is spawned. An agent that takes longer
// to boot than the listener's header deadline (seconds, on a loaded machine) must still link: it was
// refused with HTTP 408 and its cold start failed. The environment here is a stand-in at the provider
// boundary that dials late over an in-process pipe, exactly as the agent dials over its fd.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Duplex, duplexPair } from 'node:stream';
import { afterAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseGatewayConfig } from '../../gateway/src/config.ts';
import { type RunningGateway, startGateway } from '../../gateway/src/gateway.ts';
import type { EnvironmentLaunch, EnvironmentProvider } from '../../gateway/src/providers/provider.ts';
import { FunctionRegistry } from '../../gateway/src/registry/function-registry.ts';
import { loadManifestDirectory } from '../../gateway/src/registry/manifest-loader.ts';
import { testDataRoot } from '../support/serval.ts';

const BOOT_MS = 2500; // past the 1 s header deadline and at least one of Node's 1 s deadline checks

class LateLinkingProvider implements EnvironmentProvider {
  readonly outcome: Promise<string>;
  private settle!: (outcome: string) => void;
  private readonly ended: Array<() => void> = [];
  constructor() {
    this.outcome = new Promise((resolve) => {
      this.settle = resolve;
    });
  }
  launch({ linkUrl, token, acceptLink }: EnvironmentLaunch) {
    const [gatewaySide, agentSide] = duplexPair();
    acceptLink(gatewaySide);
    const timer = setTimeout(() => {
      const ws = new WebSocket(linkUrl, {
        headers: { Authorization: `Bearer ${token}` },
        createConnection: () => agentSide as Duplex as never,
      });
      ws.once('open', () => {
        this.settle('linked');
        ws.terminate();
      });
      ws.once('unexpected-response', (_req, res) => this.settle(`refused: HTTP ${res.statusCode}`));
      ws.once('error', (err) => this.settle(`error: ${err.message}`));
    }, BOOT_MS);
    const exited = new Promise<string>((resolve) => this.ended.push(() => resolve('stopped')));
    return {
      exited,
      stop: () => {
        clearTimeout(timer);
        for (const end of this.ended.splice(0)) end();
      },
    };
  }
  async close() {
    for (const end of this.ended.splice(0)) end();
  }
}

const work = mkdtempSync(join(testDataRoot(), 'serval-pipe-link-'));
let gateway: RunningGateway | undefined;
afterAll(async () => {
  await gateway?.close();
  rmSync(work, { recursive: true, force: true });
});

it('links an agent that boots for longer than the header deadline', async () => {
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'fn.yaml'),
    'apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: fn}\nspec: {runtime: nodejs24.x, handler: index.handler, code: {inline: {index.mjs: "export const handler = async () => 1;"}}}\n',
  );
  const config = parseGatewayConfig(
    {},
    {
      port: 0,
      metricsPort: 0,
      dataDir: join(work, 'data'),
      headersTimeoutSeconds: 1,
      requestTimeoutSeconds: 1,
    },
  );
  const registry = new FunctionRegistry();
  for (const fn of loadManifestDirectory(manifests, config.dataDir).functions) registry.put(fn);
  const provider = new LateLinkingProvider();
  gateway = await startGateway({ config, registry, provider, log: () => {} });
  // The call waits for the environment; only the link's fate matters here, and close() ends the call.
  void fetch(`${gateway.url}/2015-03-31/functions/fn/invocations`, { method: 'POST', body: '{}' }).catch(
    () => {},
  );
  expect(await provider.outcome).toBe('linked');
}, 60_000);
