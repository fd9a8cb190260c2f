// Response streaming's numbers for docs/benchmarks.md: time to first byte through a RESPONSE_STREAM
// function URL over the function's own first write, and a 100 MB stream's rate against a plain Node HTTP
// server streaming the same bytes on loopback in the same run. Run alone with
// `node bench/response-streaming.ts`, or as part of `npm run bench`; with BENCH_STREAM_BASELINE set to
// other checkouts (main's, say; comma-separated) their servals stream too, interleaved, for a before/after in one run;
// each checkout runs in both Node modes (ADR-52): in-process, the default since ADR-54, and agent mode, side by
// side; BENCH_STREAM_MODES=in-process (or agent) runs one.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { functionUrlId } from '../gateway/src/front-door/function-urls/url-table.ts';
import { cpuByRole, cpuTree, type ProcessCpu } from './load-tools.ts';
import { ROOT, startServalProcess } from './serval-process.ts';

const TTFB_SAMPLES = Number(process.env.BENCH_STREAM_TTFB_SAMPLES ?? 200);
const STREAM_MB = 100;
const RUNS = Number(process.env.BENCH_STREAM_RUNS ?? 3);
/** Other checkouts (say, main's worktree), comma-separated, to measure side by side with this one. */
const BASELINE_ROOTS = (process.env.BENCH_STREAM_BASELINE ?? '').split(',').filter(Boolean);
/** Node modes to run each checkout in: `in-process` (the default since ADR-54) and `agent` (SERVAL_NODE_IN_PROCESS=off). */
const MODES = (process.env.BENCH_STREAM_MODES ?? 'in-process,agent').split(',').filter(Boolean);
for (const mode of MODES)
  if (mode !== 'in-process' && mode !== 'agent')
    throw new Error(`BENCH_STREAM_MODES: unknown mode ${JSON.stringify(mode)} (in-process or agent)`);
const now = () => performance.timeOrigin + performance.now();

/** GETs `url`, counting bytes without keeping them; `first` sees the first chunk and its arrival time. */
function fetchCounting(url: string, first?: (chunk: Buffer, at: number) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        if (bytes === 0) first?.(c, now());
        bytes += c.length;
      });
      res.on('end', () => resolve(bytes));
      res.on('error', reject);
    }).on('error', reject);
  });
}

/** One GET of the 100 MB body: its rate, and the CPU each process of `tree` spent on it, in ms per MB. */
async function streamOnce(url: string, tree?: number): Promise<{ mbps: number; cpu: Map<string, number> }> {
  const before = tree === undefined ? undefined : cpuTree(tree);
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  const bytes = await fetchCounting(url);
  const seconds = (performance.now() - started) / 1000;
  const own = process.cpuUsage(ownBefore);
  if (bytes !== STREAM_MB * 1024 * 1024) throw new Error(`streamed ${bytes} bytes`);
  // This process is the client (and, for the loopback run, its server too).
  const cpu = new Map<string, number>([['client', (own.user + own.system) / 1000 / STREAM_MB]]);
  if (before)
    for (const [role, s] of cpuByRole(before, cpuTree(tree!), roleOf)) cpu.set(role, (s * 1000) / STREAM_MB);
  return { mbps: STREAM_MB / seconds, cpu };
}

/** Which part of a stream's path a process of the serval tree is. */
function roleOf(p: ProcessCpu): string {
  if (p.depth === 0) return 'gateway';
  // In-process mode's environment is the agent and the runtime in one process: its CPU is the agent column's.
  // The shims run from the source tree or as JavaScript built into the cache.
  if (/(agent|in-process)\/main\.[jt]s/.test(p.cmdline)) return 'agent';
  if (p.cmdline.includes('bootstrap')) return 'runtime';
  return 'other';
}

/** The loopback baseline: a Node server writing the same 64 KiB chunks with backpressure. */
async function loopbackServer(): Promise<{ url: string; close: () => void }> {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const server = createServer(async (_req, res) => {
    for (let left = STREAM_MB * 16; left > 0; left--) {
      if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
    }
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => server.close(),
  };
}

/** A serval process serving the stream function; `root` is the checkout it runs from. */
async function startStreamingServal(dir: string, name: string, root: string, mode: string) {
  const key = String(readdirSync(dir).length);
  const manifests = join(dir, `manifests-${key}`);
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'stream.yaml'),
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: stream}\nspec: {runtime: nodejs24.x, handler: index.handler, timeoutSeconds: 120, url: {invokeMode: RESPONSE_STREAM}, code: {path: ${join(ROOT, 'test/fixtures/functions/node/stream-url')}}}\n`,
  );
  const { url, child } = await startServalProcess(
    manifests,
    {
      SERVAL_DATA_DIR: join(dir, `data-${key}`),
      SERVAL_NODE_IN_PROCESS: mode === 'in-process' ? 'on' : 'off',
    },
    root,
  );
  const base = `${url}/lambda-url/${functionUrlId('default', 'stream', '$LATEST')}/`;
  await fetchCounting(`${base}?mode=big&mb=1`); // the environment is warm before anything is measured
  return { name, base, child };
}

const median = (xs: number[]) => pct(xs, 50);

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * (p / 100))]!;

export async function responseStreamingBench(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-stream-'));
  const servals: Array<Awaited<ReturnType<typeof startStreamingServal>>> = [];
  const loopback = await loopbackServer();
  try {
    const label = (name: string, mode: string) => (MODES.length > 1 ? `${name}, ${mode}` : name);
    for (const mode of MODES) {
      servals.push(await startStreamingServal(dir, label('this checkout', mode), ROOT, mode));
      for (const root of BASELINE_ROOTS)
        servals.push(await startStreamingServal(dir, label(root, mode), root, mode));
    }
    // Samples alternate between the checkouts, as the throughput runs below do.
    const ttfb = new Map<string, number[]>(servals.map((s) => [s.name, []]));
    for (let i = 0; i < TTFB_SAMPLES + 20; i++) {
      for (const s of servals) {
        let sample = 0;
        await fetchCounting(`${s.base}?mode=ttfb`, (chunk, at) => {
          sample = at - Number(chunk.toString());
        });
        if (i >= 20) ttfb.get(s.name)!.push(sample); // after a warm-up
      }
    }
    // Interleaved, so a change in the machine's load touches every column alike.
    const rates = new Map<string, number[]>();
    const cpu = new Map<string, Map<string, number[]>>();
    const record = (name: string, run: { mbps: number; cpu: Map<string, number> }) => {
      rates.set(name, [...(rates.get(name) ?? []), run.mbps]);
      const roles = cpu.get(name) ?? new Map<string, number[]>();
      for (const [role, ms] of run.cpu) roles.set(role, [...(roles.get(role) ?? []), ms]);
      cpu.set(name, roles);
    };
    const load = [loadavg()[0]!];
    for (let i = 0; i < RUNS; i++) {
      record('loopback', await streamOnce(loopback.url));
      for (const s of servals)
        record(s.name, await streamOnce(`${s.base}?mode=big&mb=${STREAM_MB}`, s.child.pid));
      load.push(loadavg()[0]!);
    }
    const best = (name: string) => Math.max(...rates.get(name)!);
    const ms = (x: number) => `${x.toFixed(2)} ms`;
    const cpuCell = (name: string, role: string) => {
      const xs = cpu.get(name)?.get(role);
      return xs ? median(xs).toFixed(2) : '–';
    };
    const rows = servals.map(
      (s) =>
        `| ${s.name} | ${ms(pct(ttfb.get(s.name)!, 50))} | ${ms(pct(ttfb.get(s.name)!, 99))} | ${best(s.name).toFixed(0)} MB/s | ${((best(s.name) / best('loopback')) * 100).toFixed(0)} % | ${cpuCell(s.name, 'gateway')} | ${cpuCell(s.name, 'agent')} | ${cpuCell(s.name, 'runtime')} | ${cpuCell(s.name, 'client')} |`,
    );
    return `## Response streaming (bench/response-streaming.ts)

Time to first byte: from the handler's first \`write\` (its wall clock, sent as the first chunk) to the
chunk's arrival at the client, through a RESPONSE_STREAM function URL, ${TTFB_SAMPLES} warm samples.
Throughput: the best of ${RUNS} GETs of a ${STREAM_MB} MB body written in 64 KiB chunks, against a plain Node
server writing the same chunks on loopback, interleaved in the same run; CPU is the median ms of CPU per MB
(/proc/<pid>/stat) of each process on the path.

| Baseline | Result |
|---|---|
| ${STREAM_MB} MB from a loopback Node server | ${best('loopback').toFixed(0)} MB/s (server and client: ${cpuCell('loopback', 'client')} ms of CPU per MB) |

| Through the function URL | first byte p50 | first byte p99 | ${STREAM_MB} MB rate | of loopback | gateway CPU ms/MB | agent CPU ms/MB | runtime CPU ms/MB | client CPU ms/MB |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Load average (1 min) during the throughput runs: ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}.
Targets: first byte under 5 ms over the function's write; at least half the loopback rate (issue #17), in the
default mode (in-process, ADR-54).
`;
  } finally {
    loopback.close();
    for (const s of servals) s.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) process.stdout.write(await responseStreamingBench());
