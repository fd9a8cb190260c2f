// Starts a real gateway with the local provider on free ports, for tests; captures each function's log stream.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { type ConfigOverrides, parseGatewayConfig } from '../../gateway/src/config.ts';
import { startGateway } from '../../gateway/src/gateway.ts';
import type { ObservabilityOverrides } from '../../gateway/src/observability/observability.ts';
import { LocalProvider } from '../../gateway/src/providers/local/local-provider.ts';
import { FunctionRegistry } from '../../gateway/src/registry/function-registry.ts';
import { type LoadedManifests, loadManifestDirectory } from '../../gateway/src/registry/manifest-loader.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(REPO_ROOT, 'test/fixtures/functions');

/**
 * Test state lives under the repository's .serval/, not /tmp: an environment's private /tmp mount would
 * hide code and data kept under the host's /tmp.
 */
export function testDataRoot(): string {
  const root = join(REPO_ROOT, '.serval', 'tests');
  mkdirSync(root, { recursive: true });
  return root;
}

export function fixture(...parts: string[]): string {
  return join(FIXTURES, ...parts);
}

export interface FunctionManifestInput {
  name: string;
  runtime: string;
  handler?: string;
  codePath?: string;
  inline?: Record<string, string>;
  timeoutSeconds?: number;
  memoryMB?: number;
  environment?: Record<string, string>;
  logging?: Record<string, string>;
  /** Further spec fields, as they would appear in a manifest (url, alb, reservedConcurrency, …). */
  spec?: Record<string, unknown>;
}

/** A Node function whose code is the given `index.mjs` source (handler `index.handler`). */
export function inlineNode(
  name: string,
  source: string,
  more: Partial<FunctionManifestInput> = {},
): FunctionManifestInput {
  return { name, runtime: 'nodejs24.x', handler: 'index.handler', inline: { 'index.mjs': source }, ...more };
}

export function functionManifest(f: FunctionManifestInput): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    runtime: f.runtime,
    code: f.inline ? { inline: f.inline } : { path: f.codePath },
  };
  if (f.handler) spec.handler = f.handler;
  if (f.timeoutSeconds) spec.timeoutSeconds = f.timeoutSeconds;
  if (f.memoryMB) spec.memoryMB = f.memoryMB;
  if (f.environment) spec.environment = f.environment;
  if (f.logging) spec.logging = f.logging;
  Object.assign(spec, f.spec);
  return { apiVersion: 'serval.dev/v1alpha1', kind: 'Function', metadata: { name: f.name }, spec };
}

export interface InvokeResponse {
  status: number;
  headers: Headers;
  text: string;
  json(): unknown;
  /** Decoded X-Amz-Log-Result, when Tail was asked for. */
  logTail: string;
}

export interface TestServal {
  url: string;
  /** The Prometheus scrape URL (metrics listener on a free port). */
  metricsUrl: string | undefined;
  loaded: LoadedManifests;
  /** Whether environments get a private /tmp at the literal path. */
  isolatesTmp: boolean;
  /** Every line each function's environments wrote, by function name. */
  logs(functionName: string): string[];
  /** The gateway's own log lines. */
  gatewayLog(): string[];
  invoke(name: string, payload?: unknown, headers?: Record<string, string>): Promise<InvokeResponse>;
  stop(): Promise<void>;
}

export async function startServal(options: {
  functions?: FunctionManifestInput[];
  /** Further manifest documents beside the functions (EventSourceMappings, Aliases). */
  documents?: Record<string, unknown>[];
  manifestsDir?: string;
  config?: ConfigOverrides;
  /** Environment the gateway config is parsed from (e.g. SERVAL_AUTH_CONFIG); empty by default. */
  env?: NodeJS.ProcessEnv;
  observability?: ObservabilityOverrides;
}): Promise<TestServal> {
  const work = mkdtempSync(join(testDataRoot(), 'serval-test-'));
  let manifestsDir = options.manifestsDir;
  if (!manifestsDir) {
    manifestsDir = join(work, 'manifests');
    const docs = [...(options.functions ?? []).map(functionManifest), ...(options.documents ?? [])]
      .map((d) => stringify(d))
      .join('---\n');
    mkdirSync(manifestsDir, { recursive: true });
    writeFileSync(join(manifestsDir, 'functions.yaml'), docs);
  }
  const config = parseGatewayConfig(options.env ?? {}, {
    port: 0,
    metricsPort: 0,
    logFormat: 'text',
    dataDir: join(work, 'data'),
    // Environments load the shims as `npm start`'s do: built into JavaScript in a cache (ADR-56), with
    // Serval's compile cache beside it (ADR-55). One cache for the whole run, under .serval/ as the rest.
    cacheDir: join(REPO_ROOT, '.serval', 'cache'),
    ...options.config,
  });
  const loaded = loadManifestDirectory(manifestsDir, config.dataDir);
  const registry = new FunctionRegistry();
  for (const fn of loaded.functions) registry.put(fn);
  const logs = new Map<string, string[]>();
  const provider = new LocalProvider(config, (spec, line) => {
    const lines = logs.get(spec.functionName) ?? [];
    lines.push(line);
    logs.set(spec.functionName, lines);
  });
  const gatewayLog: string[] = [];
  const gateway = await startGateway({
    config,
    registry,
    provider,
    aliases: loaded.aliases,
    codeSigningConfigs: loaded.codeSigningConfigs,
    eventSourceMappings: loaded.eventSourceMappings,
    log: (l) => gatewayLog.push(l),
    observability: options.observability,
  });
  return {
    url: gateway.url,
    metricsUrl: gateway.metricsUrl,
    loaded,
    isolatesTmp: provider.isolatesTmp,
    logs: (name) => logs.get(name) ?? [],
    gatewayLog: () => gatewayLog,
    async invoke(name, payload = {}, headers = {}) {
      const res = await fetch(`${gateway.url}/2015-03-31/functions/${encodeURIComponent(name)}/invocations`, {
        method: 'POST',
        headers: { 'X-Amz-Log-Type': 'Tail', ...headers },
        body: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
      const text = await res.text();
      const tail = res.headers.get('x-amz-log-result');
      return {
        status: res.status,
        headers: res.headers,
        text,
        json: () => JSON.parse(text),
        logTail: tail ? Buffer.from(tail, 'base64').toString('utf8') : '',
      };
    },
    async stop() {
      await gateway.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
