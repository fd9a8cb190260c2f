// What metrics and tracing cost a warm invocation: three `serval dev` gateways that differ only in their
// observability settings, measured in interleaved rounds so that machine noise hits all three alike.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InvocationResult } from '../apis/environment-link.ts';
import { dispatchObserver } from '../gateway/src/observability/dispatch-observer.ts';
import { InvocationObserver } from '../gateway/src/observability/invocation-observer.ts';
import { GatewayMetrics } from '../gateway/src/observability/metrics.ts';
import { Tracing } from '../gateway/src/observability/tracing.ts';
import { startServalProcess } from './serval-process.ts';

interface Variant {
  label: string;
  env: Record<string, string>;
}

const ROUNDS = Number(process.env.BENCH_OBSERVABILITY_ROUNDS ?? 6);
const SAMPLES_PER_ROUND = Number(process.env.BENCH_OBSERVABILITY_SAMPLES ?? 500);

/** Runs the comparison and returns a markdown section for docs/benchmarks.md. */
export async function observabilityBench(root: string): Promise<string> {
  const sink = await otlpSink();
  const variants: Variant[] = [
    { label: 'metrics off, tracing off', env: { SERVAL_METRICS: 'off' } },
    { label: 'metrics on, tracing off (default)', env: {} },
    {
      label: 'metrics on, tracing on (OTLP/HTTP to a local sink, every trace sampled)',
      env: { SERVAL_TRACING: 'otlp', SERVAL_OTLP_ENDPOINT: `${sink.url}/v1/traces` },
    },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-obs-'));
  const gateways: Gateway[] = [];
  try {
    for (const [i, v] of variants.entries())
      gateways.push(await startGateway(root, join(dir, String(i)), v.env));
    const samples = variants.map(() => [] as number[]);
    for (const g of gateways) await timeSequential(g, 300); // start and warm each environment
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, g] of gateways.entries())
        samples[i]!.push(...(await timeSequential(g, SAMPLES_PER_ROUND)));
    }
    // Let the batch span processor export what the last round produced.
    await new Promise((r) => setTimeout(r, 6000));
    const cost = await instrumentationCost();
    const costRows = cost.map((c, i) => {
      const label = variants[i]!.label.replace(/ \(OTLP.*\)$/, ' (spans batched, export discarded)');
      return `| ${label} | ${c.toFixed(2)} µs | ${((c / 1000 / pct(samples[i]!, 50)) * 100).toFixed(2)} % |`;
    });
    const base = samples[0]!;
    const rows = variants.map((v, i) => {
      const s = samples[i]!;
      const overhead = (x: number, b: number) => `${(((x - b) / b) * 100).toFixed(1)} %`;
      return (
        `| ${v.label} | ${ms(pct(s, 50))} | ${ms(pct(s, 99))} | ${ms(mean(s))} | ` +
        `${i === 0 ? '—' : overhead(pct(s, 50), pct(base, 50))} | ${i === 0 ? '—' : overhead(mean(s), mean(base))} |`
      );
    });
    return `## Observability overhead (warm invocations, Node echo)

Three gateways, identical but for their observability settings, each with one warm Node echo environment;
${ROUNDS} interleaved rounds of ${SAMPLES_PER_ROUND} sequential invocations each, over one keep-alive
connection.
The tracing gateway exported ${sink.requests()} OTLP requests to a local HTTP sink during the run.

| Configuration | p50 | p99 | mean | p50 vs metrics off | mean vs metrics off |
|---|---|---|---|---|---|
${rows.join('\n')}

The same three settings measured in process, without the network or the function: what the Invoker's
and the pool's instrumentation cost per invocation (${COST_SAMPLES} invocations against a stub
environment, best of five runs after a warm-up). It still varies with machine load, but far less than
end-to-end latency does.

| Configuration | CPU per invocation | share of that configuration's warm p50 |
|---|---|---|
${costRows.join('\n')}

Target: under 5 % added latency with metrics on and tracing off.
`;
  } finally {
    for (const g of gateways) g.child.kill('SIGTERM');
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const COST_SAMPLES = 50_000;

/**
 * Cost in µs of observing one invocation, for: metrics off; metrics on; metrics and tracing on. The best of
 * five runs after a warm-up, because other processes only ever add time.
 */
async function instrumentationCost(): Promise<number[]> {
  const discard = {
    export: (_: unknown, done: (r: { code: number }) => void) => done({ code: 0 }),
    shutdown: async () => {},
  };
  const settings = [
    () => ({ metrics: undefined, tracing: Tracing.off() }),
    () => ({ metrics: new GatewayMetrics({ processMetrics: false }), tracing: Tracing.off() }),
    () => ({
      metrics: new GatewayMetrics({ processMetrics: false }),
      tracing: new Tracing({ exporter: discard, processor: 'batch', sampleRatio: 1 }),
    }),
  ];
  const result: InvocationResult = {
    requestId: 'r',
    outcome: 'success',
    durationMs: 1.2,
    billedDurationMs: 2,
    maxMemoryUsedMB: 60,
    logTail: '',
  };
  const runs = settings.map(() => [] as number[]);
  for (let run = 0; run < 6; run++) {
    for (const [i, make] of settings.entries()) {
      const { metrics, tracing } = make();
      const invocations = new InvocationObserver({ metrics, tracing });
      const pool = dispatchObserver(metrics, tracing);
      const started = performance.now();
      for (let n = 0; n < COST_SAMPLES; n++) {
        const watch = invocations.begin(
          { namespace: 'default', name: 'echo', version: '$LATEST', memoryMB: 128 },
          { requestId: 'r' },
        );
        await watch.run(async () => {
          const lease = watch.admit({ release() {} });
          if (typeof lease === 'string') throw new Error(lease);
          try {
            return await watch.dispatch(() =>
              pool.runtime({ requestId: 'r', invokedFunctionArn: 'arn' }, 'env', async () => ({
                result,
                body: Buffer.alloc(0),
              })),
            );
          } finally {
            lease.release();
          }
        });
      }
      if (run > 0) runs[i]!.push(((performance.now() - started) / COST_SAMPLES) * 1000);
      await tracing.shutdown();
    }
  }
  return runs.map((r) => Math.min(...r));
}

interface Gateway {
  url: string;
  agent: Agent;
  child: ChildProcess;
}

async function startGateway(root: string, dir: string, env: Record<string, string>): Promise<Gateway> {
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(
    join(manifests, 'echo.yaml'),
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: echo}\nspec: {runtime: nodejs24.x, handler: index.handler, code: {path: ${join(root, 'test/fixtures/functions/node/echo-esm')}}}\n`,
  );
  const { url, child } = await startServalProcess(manifests, { ...env, SERVAL_DATA_DIR: join(dir, 'data') });
  return {
    url: `${url}/2015-03-31/functions/echo/invocations`,
    agent: new Agent({ keepAlive: true, maxSockets: 1 }),
    child,
  };
}

async function timeSequential(g: Gateway, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        g.url,
        { method: 'POST', agent: g.agent, headers: { 'Content-Length': 7 } },
        (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)),
      );
      req.on('error', reject);
      req.end('{"a":1}');
    });
    samples.push(performance.now() - t);
    if (status !== 200) throw new Error(`HTTP ${status} from ${g.url}`);
  }
  return samples;
}

/** Accepts OTLP/HTTP exports and throws them away, counting requests. */
async function otlpSink(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      count++;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => count,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const ms = (x: number) => `${x.toFixed(3)} ms`;

// Run alone: `node bench/observability.ts`.
if (import.meta.main) process.stdout.write(await observabilityBench(join(import.meta.dirname, '..')));
