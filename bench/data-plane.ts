// The data plane side by side, in one run on one machine: Serval against AWS's Runtime Interface
// Emulator with the official Node client and against serverless-offline on the same echo handler, with
// the loopback floor (a bare node:http echo) and the process-start floor (`node -e 0`). Load comes from
// wrk. The machine may be shared, so the headline is each ratio within the run, with the load average
// beside it. `node bench/data-plane.ts` runs this part alone and updates its section of
// docs/benchmarks.md; BENCH_QUICK=1 keeps it short (2 s rows, 3 cold starts) and prints without writing,
// BENCH_DATA_PLANE_SECONDS / BENCH_COLD_SAMPLES / BENCH_MEMORY_ENVIRONMENTS set each part's size.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type CapResult,
  DATA_PLANE_HEADING,
  NOTES_MARKER,
  RIE,
  type Row,
  report,
  SERVAL,
  SERVAL_AGENT,
  SLS,
} from './data-plane-report.ts';
import { previousSection, writeSection } from './doc-section.ts';
import { environmentMemory, isAgent } from './environment-memory.ts';
import { cpuByRole, cpuTree, type ProcessCpu, startRie, stop, waitForPort, wrk } from './load-tools.ts';
import { startServalProcess } from './serval-process.ts';
import { startServerlessOffline } from './serverless-offline.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DOC = join(ROOT, 'docs/benchmarks.md');
const QUICK = Boolean(process.env.BENCH_QUICK);
const SECONDS = Number(process.env.BENCH_DATA_PLANE_SECONDS ?? (QUICK ? 2 : 5));
const COLD = Number(process.env.BENCH_COLD_SAMPLES ?? (QUICK ? 3 : 10));
/** The memory target is stated for 64 warm environments; fewer only when asked for. */
const MEMORY_ENVIRONMENTS = Number(process.env.BENCH_MEMORY_ENVIRONMENTS ?? 64);
const ECHO = join(ROOT, 'test/fixtures/functions/node/echo-esm');
const CAP = 64;
const CALLERS = 256;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Answer {
  status: number;
  text: string;
  /** x-amzn-ErrorType of an API error, or X-Amz-Function-Error of a failed invocation. */
  errorType?: string | undefined;
}

function post(url: string, body: string, agent: Agent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (d) => (text += d))
          .on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text,
              errorType: (res.headers['x-amzn-errortype'] ?? res.headers['x-amz-function-error']) as string,
            }),
          );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Serval's processes: the gateway, the agents (under their sandbox wrappers), the runtimes. */
const servalRole = (p: ProcessCpu) =>
  p.depth === 0 ? 'front' : /agent\/main\.[jt]s/.test(p.cmdline) ? 'agent' : 'runtime';
const rieRole = (p: ProcessCpu) => (p.depth === 0 ? 'front' : 'runtime');

/** wrk against `url`, with the CPU µs per invocation each role of `root`'s process tree spent. */
async function measured(url: string, concurrency: number, root?: number, roleOf = servalRole) {
  // Warm-up: the first call waits out a cold start, then load starts environments and warms the JIT.
  const first = await post(url, '{"a":1}', new Agent());
  if (first.status !== 200) throw new Error(`${url} answered ${first.status}: ${first.text}`);
  await wrk(url, concurrency, QUICK ? 1 : Math.ceil(1 + concurrency / 32));
  const before = root ? cpuTree(root) : undefined;
  const load = await wrk(url, concurrency, SECONDS);
  const cpu: Row['cpu'] = {};
  let environments: number | undefined;
  // A row that completed nothing has no latency and no CPU per invocation (not a division by one).
  if (load.requests === 0) Object.assign(load, { p50: Number.NaN, p99: Number.NaN });
  if (before && root) {
    const after = cpuTree(root);
    if (load.requests > 0)
      for (const [role, seconds] of cpuByRole(before, after, roleOf))
        cpu[role as keyof Row['cpu']] = (seconds * 1e6) / load.requests;
    // Each environment's first Node process (an agent, or an in-process environment), not its wrappers.
    const agents = [...after.values()].filter((p) => p.depth > 0 && isAgent(p.cmdline)).length;
    environments = agents || undefined;
  }
  return { load, cpu, environments };
}

async function startFloor(): Promise<{ url: string; child: ChildProcess }> {
  const code = `const s = require('node:http').createServer((q, r) => { const c = []; q.on('data', (d) => c.push(d)).on('end', () => r.end(Buffer.concat(c))); }); s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((r) => child.stdout!.once('data', (d) => r(String(d).trim())));
  return { url: `http://127.0.0.1:${port}/`, child };
}

async function processStartMs(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < COLD; i++) {
    const t = performance.now();
    await new Promise((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', r));
    samples.push(performance.now() - t);
  }
  return pct(samples, 50);
}

const RIE_PORT = 18_400;
const rieUrl = `http://127.0.0.1:${RIE_PORT}/2015-03-31/functions/function/invocations`;

/** The emulator's cold start: a fresh emulator and client each time, timed from the first call. */
async function rieCold(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < COLD; i++) {
    const rie = startRie(ROOT, ECHO, 'index.handler', RIE_PORT);
    try {
      await waitForPort(RIE_PORT);
      const agent = new Agent({ keepAlive: false });
      const t = performance.now();
      const res = await post(rieUrl, '{"a":1}', agent);
      samples.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`RIE answered ${res.status}: ${res.text}`);
    } finally {
      await stop(rie);
    }
  }
  return pct(samples, 50);
}

function manifests(): string {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-dp-'));
  mkdirSync(join(dir, 'manifests'));
  const fn = (name: string, path: string, extra = '') =>
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: ${name}}\nspec: {runtime: nodejs24.x, handler: index.handler, code: {path: ${path}}${extra}}\n`;
  const docs = [
    fn('echo', ECHO),
    fn(
      'capped',
      join(ROOT, 'test/fixtures/functions/node/sleepy'),
      `, reservedConcurrency: ${CAP}, timeoutSeconds: 120`,
    ),
  ];
  for (let i = 0; i < COLD; i++) docs.push(fn(`cold-${i}`, ECHO));
  writeFileSync(join(dir, 'manifests/bench.yaml'), docs.join('---\n'));
  mkdirSync(join(dir, 'data'));
  return dir;
}

/** `CALLERS` calls at once against a function capped at `CAP`: the extra ones must be clean 429s. */
async function capCheck(base: string): Promise<CapResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CALLERS });
  const url = `${base}/2015-03-31/functions/capped/invocations`;
  // First the cap's worth of environments, so that the burst's admitted calls do not wait out cold starts
  // while its extra ones arrive; then every call over the cap must be refused at once.
  await Promise.all(Array.from({ length: CAP }, () => post(url, '{"ms":1000}', agent)));
  const results = await Promise.all(
    Array.from({ length: CALLERS }, () =>
      post(url, '{"ms":15000}', agent).catch((err: Error): Answer => ({ status: 0, text: err.message })),
    ),
  );
  agent.destroy();
  // A 200 with X-Amz-Function-Error (a timeout, a crash) is no success.
  const ok = results.filter((r) => r.status === 200 && r.errorType === undefined).length;
  const throttled = results.filter(
    (r) =>
      r.status === 429 && r.errorType === 'TooManyRequestsException' && JSON.parse(r.text).Type === 'User',
  ).length;
  // What the rest were, so a failed check says why.
  const others = new Map<string, number>();
  for (const r of results) {
    if ((r.status === 200 && r.errorType === undefined) || r.status === 429) continue;
    const what = `${r.status} ${r.errorType ?? r.text.slice(0, 60)}`;
    others.set(what, (others.get(what) ?? 0) + 1);
  }
  const other = [...others].map(([what, n]) => `${n} × ${what}`).join(', ');
  return { ok, throttled, other: CALLERS - ok - throttled, otherKinds: other };
}

/** First calls of `names`, one each over `agent`: p50 of the cold starts, in ms. */
async function firstCalls(urlOf: (name: string) => string, names: string[], what: string): Promise<number> {
  const cold: number[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  for (const name of names) {
    const t = performance.now();
    const res = await post(urlOf(name), '{}', agent);
    cold.push(performance.now() - t);
    if (res.status !== 200) throw new Error(`${what} answered ${res.status}: ${res.text}`);
  }
  agent.destroy();
  return pct(cold, 50);
}

const coldNames = () => Array.from({ length: COLD }, (_, i) => `cold-${i}`);
const slsRole = (p: ProcessCpu) => (p.depth === 0 ? 'front' : 'runtime');

/** serverless-offline's rows and cold start; what failed is returned as the reason, not thrown. */
async function serverlessOfflineRows(rows: Row[]): Promise<{ cold?: number; skipped?: string }> {
  let sls: Awaited<ReturnType<typeof startServerlessOffline>>;
  try {
    sls = await startServerlessOffline(ECHO, 'index.handler', ['echo', ...coldNames()]);
  } catch (err) {
    return { skipped: `serverless-offline (${(err as Error).message.split('\n')[0]})` };
  }
  try {
    const cold = await firstCalls(sls.invokeUrl, coldNames(), 'serverless-offline');
    for (const c of [1, 8]) {
      const m = await measured(sls.invokeUrl('echo'), c, sls.child.pid, slsRole);
      rows.push({ system: SLS, concurrency: c, ...m });
    }
    return { cold };
  } catch (err) {
    return { skipped: `serverless-offline rows (${(err as Error).message.split('\n')[0]})` };
  } finally {
    await stop(sls.child);
    rmSync(sls.dir, { recursive: true, force: true });
  }
}

export async function dataPlaneBench(): Promise<string> {
  const startLoad = loadavg();
  const rows: Row[] = [];
  const skipped: string[] = [];
  const floor = await startFloor();
  try {
    for (const c of [1, 8, 64])
      rows.push({
        system: 'loopback floor',
        concurrency: c,
        load: (await measured(floor.url, c, undefined)).load,
        cpu: {},
      });
  } finally {
    await stop(floor.child);
  }
  const nodeStart = await processStartMs();

  const coldRie = await rieCold();
  const rie = startRie(ROOT, ECHO, 'index.handler', RIE_PORT);
  try {
    await waitForPort(RIE_PORT);
    // The emulator serves one call at a time (overlapping calls fail), so it runs at concurrency 1 only.
    const m = await measured(rieUrl, 1, rie.pid, rieRole);
    rows.push({ system: RIE, concurrency: 1, ...m });
  } finally {
    await stop(rie);
  }

  const sls = await serverlessOfflineRows(rows);
  if (sls.skipped) skipped.push(sls.skipped);

  const dir = manifests();
  const serval = await startServalProcess(join(dir, 'manifests'), { SERVAL_DATA_DIR: join(dir, 'data') });
  let coldServal: number;
  let cap: CapResult;
  try {
    coldServal = await firstCalls(
      (name) => `${serval.url}/2015-03-31/functions/${name}/invocations`,
      coldNames(),
      'Serval',
    );
    for (const c of [1, 8, 64]) {
      const m = await measured(`${serval.url}/2015-03-31/functions/echo/invocations`, c, serval.child.pid);
      rows.push({ system: SERVAL, concurrency: c, ...m });
    }
    cap = await capCheck(serval.url);
  } finally {
    await stop(serval.child);
  }
  // Agent mode, same rows: the agent and the Node runtime as two processes (ADR-52's other mode).
  const agentMode = await startServalProcess(join(dir, 'manifests'), {
    SERVAL_DATA_DIR: join(dir, 'data-agent-mode'),
    SERVAL_NODE_IN_PROCESS: 'off',
  });
  try {
    for (const c of [1, 8, 64]) {
      const m = await measured(
        `${agentMode.url}/2015-03-31/functions/echo/invocations`,
        c,
        agentMode.child.pid,
      );
      rows.push({ system: SERVAL_AGENT, concurrency: c, ...m });
    }
  } finally {
    await stop(agentMode.child);
  }
  const memory = await environmentMemory(ECHO, MEMORY_ENVIRONMENTS, post);
  const section = report({
    rows,
    cold: { rie: coldRie, serval: coldServal, sls: sls.cold },
    nodeStart,
    cap,
    memory,
    skipped,
    startLoad,
    settings: {
      seconds: SECONDS,
      coldSamples: COLD,
      cap: CAP,
      callers: CALLERS,
      memoryEnvironments: MEMORY_ENVIRONMENTS,
    },
  });
  return `${section}\n${keptNotes()}`;
}

/** The hand-written notes under the generated part of the section, as the doc has them now. */
function keptNotes(): string {
  const previous = previousSection(existsSync(DOC) ? readFileSync(DOC, 'utf8') : '', DATA_PLANE_HEADING);
  const at = previous.indexOf(NOTES_MARKER);
  return at < 0 ? `${NOTES_MARKER}\n` : previous.slice(at);
}

if (import.meta.main) {
  const section = await dataPlaneBench();
  // A quick run is a check, not the record: only a full one is written.
  if (!process.env.BENCH_DRY && !QUICK) writeSection(DOC, DATA_PLANE_HEADING, section);
  process.stdout.write(section);
}
