// `npm run bench`: warm invoke latency against a direct loopback HTTP baseline, and cold starts, for the
// Node and Python echo functions. Writes docs/benchmarks.md. Not part of CI. BENCH_QUICK=1 runs the
// data-plane side by side alone, short, and only prints it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { functionUrlId } from '../gateway/src/front-door/function-urls/url-table.ts';
import { asyncBench } from './async.ts';
import { authBench } from './auth.ts';
import { dataPlaneBench } from './data-plane.ts';
import { eventSourcesBench } from './event-sources.ts';
import { streamsBench } from './event-sources-streams.ts';
import { kubernetesBench, previousKubernetesSection } from './kubernetes.ts';
import { observabilityBench } from './observability.ts';
import { responseStreamingBench } from './response-streaming.ts';
import { startServalProcess } from './serval-process.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NOTES_HEADING = '## Reading these numbers';
const WARM_SAMPLES = Number(process.env.BENCH_WARM_SAMPLES ?? 3000);
const COLD_SAMPLES = Number(process.env.BENCH_COLD_SAMPLES ?? 10);
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(
  url: string,
  body: string,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'Content-Length': Buffer.byteLength(body), 'X-Amz-Log-Type': 'Tail' },
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d) => (text += d))
          .on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `concurrency` callers, each on its own keep-alive connection, for `ms`; returns rate and latency. */
async function throughput(url: string, concurrency: number, ms: number) {
  const pool = new Agent({ keepAlive: true, maxSockets: concurrency });
  const samples: number[] = [];
  let errors = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        const status = await new Promise<number>((resolve, reject) => {
          const req = request(
            url,
            { method: 'POST', agent: pool, headers: { 'Content-Length': 7 } },
            (res) => {
              res.resume().on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end('{"a":1}');
        });
        samples.push(performance.now() - t);
        if (status !== 200) errors++;
      }
    }),
  );
  pool.destroy();
  const seconds = (performance.now() - started) / 1000;
  return { rate: samples.length / seconds, p50: pct(samples, 50), p99: pct(samples, 99), errors };
}

async function timeSequential(url: string, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await post(url, '{"a":1}');
    samples.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text}`);
  }
  return samples;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function baseline(): Promise<number[]> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => res.end(Buffer.concat(chunks)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  await timeSequential(url, 200);
  const samples = await timeSequential(url, WARM_SAMPLES);
  server.close();
  return samples;
}

async function startServal(): Promise<{ url: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-'));
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  const docs: string[] = [];
  const fn = (name: string, runtime: string, handler: string, path: string) =>
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: ${name}}\nspec: {runtime: ${runtime}, handler: ${handler}, code: {path: ${path}}}\n`;
  docs.push(fn('echo', 'nodejs24.x', 'index.handler', join(ROOT, 'test/fixtures/functions/node/echo-esm')));
  docs.push(
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: echo-url}\nspec: {runtime: nodejs24.x, handler: index.handler, url: {}, code: {path: ${join(ROOT, 'test/fixtures/functions/node/echo-esm')}}}\n`,
  );
  docs.push(
    fn(
      'echo-python',
      'python3.11',
      'lambda_function.handler',
      join(ROOT, 'test/fixtures/functions/python/echo'),
    ),
  );
  for (let i = 0; i < COLD_SAMPLES; i++) {
    docs.push(
      fn(
        `cold-node-${i}`,
        'nodejs24.x',
        'index.handler',
        join(ROOT, 'test/fixtures/functions/node/echo-esm'),
      ),
    );
    docs.push(
      fn(
        `cold-python-${i}`,
        'python3.11',
        'lambda_function.handler',
        join(ROOT, 'test/fixtures/functions/python/echo'),
      ),
    );
  }
  writeFileSync(join(manifests, 'bench.yaml'), docs.join('---\n'));
  const { url, child } = await startServalProcess(manifests, { SERVAL_DATA_DIR: join(dir, 'data') });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function cold(url: string, prefix: string): Promise<{ total: number[]; init: number[] }> {
  const total: number[] = [];
  const init: number[] = [];
  for (let i = 0; i < COLD_SAMPLES; i++) {
    const t = performance.now();
    const res = await post(`${url}/2015-03-31/functions/${prefix}-${i}/invocations`, '{}');
    total.push(performance.now() - t);
    const tail = Buffer.from(String(res.headers['x-amz-log-result'] ?? ''), 'base64').toString();
    const m = /Init Duration: ([\d.]+) ms/.exec(tail);
    if (m) init.push(Number(m[1]));
  }
  return { total, init };
}

// BENCH_QUICK=1: the data-plane side by side alone, with short rows, printed and not written (a quick
// run is a check, not the record docs/benchmarks.md keeps).
if (process.env.BENCH_QUICK) {
  process.stdout.write(await dataPlaneBench());
  process.exit(0);
}

const base = await baseline();
const serval = await startServal();
const rows: string[] = [];
const invokeUrl = (name: string) => `${serval.url}/2015-03-31/functions/${name}/invocations`;
try {
  const coldNode = await cold(serval.url, 'cold-node');
  const coldPython = await cold(serval.url, 'cold-python');
  for (const [name, label] of [
    ['echo', 'Node.js 24 echo'],
    ['echo-python', 'Python 3.11 echo'],
  ] as const) {
    await timeSequential(invokeUrl(name), 300);
    const warm = await timeSequential(invokeUrl(name), WARM_SAMPLES);
    rows.push(
      `| ${label} | ${ms(pct(warm, 50))} | ${ms(pct(warm, 99))} | ${ms(pct(warm, 50) - pct(base, 50))} | ${(1000 / (warm.reduce((a, b) => a + b, 0) / warm.length)).toFixed(0)}/s |`,
    );
  }
  const throughputRows: string[] = [];
  const surfaces = [
    ['Invoke API', invokeUrl('echo')],
    ['Function URL', `${serval.url}/lambda-url/${functionUrlId('default', 'echo-url', '$LATEST')}/`],
  ] as const;
  for (const [surface, url] of surfaces) {
    for (const concurrency of [1, 8, 64]) {
      await throughput(url, concurrency, 1000 + concurrency * 200); // start and warm the environments
      const t = await throughput(url, concurrency, Number(process.env.BENCH_THROUGHPUT_MS ?? 5000));
      throughputRows.push(
        `| ${surface} | ${concurrency} | ${t.rate.toFixed(0)}/s | ${ms(t.p50)} | ${ms(t.p99)} | ${t.errors} |`,
      );
    }
  }
  const coldRow = (label: string, c: { total: number[]; init: number[] }) =>
    `| ${label} | ${ms(pct(c.total, 50))} | ${ms(Math.max(...c.total))} | ${c.init.length ? ms(pct(c.init, 50)) : 'n/a'} |`;
  const dataPlaneSection = await dataPlaneBench();
  const asyncSection = await asyncBench();
  const authSection = await authBench();
  const observabilitySection = await observabilityBench(ROOT);
  const eventSourcesSection = await eventSourcesBench();
  const streamsSection = await streamsBench();
  const responseStreamingSection = await responseStreamingBench();
  // The Kubernetes part needs the test control plane and takes about 20 minutes: only when asked for.
  const kubernetesSection = process.env.BENCH_KUBERNETES
    ? await kubernetesBench()
    : previousKubernetesSection(
        existsSync(join(ROOT, 'docs/benchmarks.md'))
          ? readFileSync(join(ROOT, 'docs/benchmarks.md'), 'utf8')
          : '',
      );
  const report = `# Benchmarks

Generated by \`npm run bench\` (bench/run.ts). Numbers from one run; rerun to compare.

- Date: ${new Date().toISOString()}
- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform} ${process.arch}, Node ${process.version}
- Method: sequential requests over one keep-alive connection on loopback, ${WARM_SAMPLES} samples after a warm-up.
  The baseline is a plain Node HTTP echo server on the same machine. Overhead is p50(Serval) − p50(baseline).

## Warm invocations (Invoke API, \`{"a":1}\`)

Baseline direct loopback HTTP: p50 ${ms(pct(base, 50))}, p99 ${ms(pct(base, 99))}.

| Function | p50 | p99 | p50 overhead over baseline | sequential rate |
|---|---|---|---|---|
${rows.join('\n')}

Target: warm p50 overhead under 1 ms.

## Throughput (Node echo, closed loop, each caller on its own keep-alive connection)

| Surface | Concurrency | Invocations/s | p50 | p99 | non-200 |
|---|---|---|---|---|---|
${throughputRows.join('\n')}

Target: at least 3,000 invocations/s, and p99 under 10 ms at concurrency 8.

## Cold starts (first invocation of a new function; ${COLD_SAMPLES} functions each)

"Total" is what the caller waits: agent process start, link, runtime start, handler load, invoke.
"Init Duration" is the runtime's init phase as REPORT states it.

| Runtime | total p50 | total max | Init Duration p50 |
|---|---|---|---|
${coldRow('Node.js 24', coldNode)}
${coldRow('Python 3.11', coldPython)}

Target: Node cold start under 100 ms.

${dataPlaneSection}
${asyncSection}
${authSection}
${observabilitySection}
${eventSourcesSection}
${streamsSection}
${responseStreamingSection}
${kubernetesSection}`;
  // The hand-written analysis below the generated tables is kept across runs.
  const file = join(ROOT, 'docs/benchmarks.md');
  const previous = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const notes = previous.indexOf(NOTES_HEADING);
  writeFileSync(file, notes >= 0 ? `${report}\n${previous.slice(notes)}` : report);
  process.stdout.write(report);
} finally {
  serval.stop();
}
