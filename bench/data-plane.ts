// The data plane side by side, in one run on one machine: Serval against AWS's Runtime Interface
// Emulator with the official Node client on the same echo handler, with the loopback floor (a bare
// node:http echo) and the process-start floor (`node -e 0`). Load comes from wrk. The machine may be
// shared, so the headline is each ratio within the run, with the load average beside it.
// `node bench/data-plane.ts` runs this part alone and updates its section of docs/benchmarks.md.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeSection } from './doc-section.ts';
import {
  cpuByRole,
  cpuTree,
  type ProcessCpu,
  RIE_VERSION,
  startRie,
  stop,
  type WrkResult,
  waitForPort,
  wrk,
} from './load-tools.ts';
import { startServalProcess } from './serval-process.ts';

const ROOT = resolve(import.meta.dirname, '..');
export const DATA_PLANE_HEADING = '## Data plane side by side';
const SECONDS = Number(process.env.BENCH_DATA_PLANE_SECONDS ?? 5);
const COLD = Number(process.env.BENCH_COLD_SAMPLES ?? 10);
const ECHO = join(ROOT, 'test/fixtures/functions/node/echo-esm');
const CAP = 64;
const CALLERS = 256;

interface Row {
  system: string;
  concurrency: number;
  load: WrkResult;
  /** CPU µs per invocation by role, where the system has that role. */
  cpu: { front?: number; agent?: number; runtime?: number };
  /** Serval's environments (agents) at the end of the row: a start storm shows here (ADR-43). */
  environments?: number;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const f = (x: number, digits = 3) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

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
  p.depth === 0 ? 'front' : p.cmdline.includes('agent/main.ts') ? 'agent' : 'runtime';
const rieRole = (p: ProcessCpu) => (p.depth === 0 ? 'front' : 'runtime');

/** wrk against `url`, with the CPU µs per invocation each role of `root`'s process tree spent. */
async function measured(url: string, concurrency: number, root?: number, roleOf = servalRole) {
  // Warm-up: the first call waits out a cold start, then load starts environments and warms the JIT.
  const first = await post(url, '{"a":1}', new Agent());
  if (first.status !== 200) throw new Error(`${url} answered ${first.status}: ${first.text}`);
  await wrk(url, concurrency, Math.ceil(1 + concurrency / 32));
  const before = root ? cpuTree(root) : undefined;
  const load = await wrk(url, concurrency, SECONDS);
  const cpu: Row['cpu'] = {};
  let environments: number | undefined;
  if (before && root) {
    const after = cpuTree(root);
    for (const [role, seconds] of cpuByRole(before, after, roleOf))
      cpu[role as keyof Row['cpu']] = (seconds * 1e6) / Math.max(1, load.requests);
    // The agent process itself, not the sandbox's unshare wrapper that names it too.
    const agents = [...after.values()].filter(
      (p) => roleOf(p) === 'agent' && !p.cmdline.startsWith('unshare'),
    ).length;
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
async function capCheck(base: string) {
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

export async function dataPlaneBench(): Promise<string> {
  const startLoad = loadavg();
  const rows: Row[] = [];
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
    rows.push({ system: 'RIE + aws-lambda-ric', concurrency: 1, ...m });
  } finally {
    await stop(rie);
  }

  const dir = manifests();
  const serval = await startServalProcess(join(dir, 'manifests'), { SERVAL_DATA_DIR: join(dir, 'data') });
  let coldServal: number;
  let cap: Awaited<ReturnType<typeof capCheck>>;
  try {
    const cold: number[] = [];
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < COLD; i++) {
      const t = performance.now();
      const res = await post(`${serval.url}/2015-03-31/functions/cold-${i}/invocations`, '{}', agent);
      cold.push(performance.now() - t);
      if (res.status !== 200) throw new Error(`Serval answered ${res.status}: ${res.text}`);
    }
    agent.destroy();
    coldServal = pct(cold, 50);
    for (const c of [1, 8, 64]) {
      const m = await measured(`${serval.url}/2015-03-31/functions/echo/invocations`, c, serval.child.pid);
      rows.push({ system: 'Serval', concurrency: c, ...m });
    }
    cap = await capCheck(serval.url);
  } finally {
    await stop(serval.child);
  }
  return report(rows, { coldRie, coldServal, nodeStart, cap, startLoad });
}

function report(
  rows: Row[],
  r: {
    coldRie: number;
    coldServal: number;
    nodeStart: number;
    cap: Awaited<ReturnType<typeof capCheck>>;
    startLoad: number[];
  },
): string {
  const find = (system: string, c: number) => rows.find((x) => x.system === system && x.concurrency === c)!;
  const rie = find('RIE + aws-lambda-ric', 1);
  const s1 = find('Serval', 1);
  const s8 = find('Serval', 8);
  const s64 = find('Serval', 64);
  const wrkShare = (x: Row) => `${f((100 * x.load.cpuSeconds) / (x.load.seconds * cpus().length), 0)} %`;
  const us = (x: number | undefined) => (x === undefined ? '–' : f(x, 0));
  const table = rows
    .map(
      (x) =>
        `| ${x.system} | ${x.concurrency} | ${f(x.load.rate, 0)}/s | ${f(x.load.p50)} ms | ${f(x.load.p99)} ms | ${x.load.failures} | ${us(x.cpu.front)} | ${us(x.cpu.agent)} | ${us(x.cpu.runtime)} | ${x.environments ?? '–'} | ${wrkShare(x)} |`,
    )
    .join('\n');
  const target = (name: string, value: string, goal: string, met: boolean) =>
    `| ${name} | ${value} | ${goal} | ${met ? 'met' : 'not met'} |`;
  const targets = [
    target(
      'warm p50 vs RIE (c=1)',
      `${f(s1.load.p50 / rie.load.p50, 2)}×`,
      '≤ 1.00×',
      s1.load.p50 <= rie.load.p50,
    ),
    target(
      'warm p99 vs RIE (c=1)',
      `${f(s1.load.p99 / rie.load.p99, 2)}×`,
      '≤ 1.00×',
      s1.load.p99 <= rie.load.p99,
    ),
    target(
      'throughput vs RIE (c=1)',
      `${f(s1.load.rate / rie.load.rate, 2)}×`,
      '≥ 1.00×',
      s1.load.rate >= rie.load.rate,
    ),
    target('throughput at c=8', `${f(s8.load.rate, 0)}/s`, '≥ 5,000/s', s8.load.rate >= 5000),
    target('p99 at c=8', `${f(s8.load.p99)} ms`, '< 10 ms', s8.load.p99 < 10),
    target(
      'throughput c=64 / c=8',
      `${f(s64.load.rate / s8.load.rate, 2)}×`,
      '≥ 0.90×',
      s64.load.rate >= 0.9 * s8.load.rate,
    ),
    target(
      'agent CPU per invocation (c=8)',
      `${us(s8.cpu.agent)} µs`,
      '< 100 µs',
      (s8.cpu.agent ?? Infinity) < 100,
    ),
    target(
      'cold start vs RIE',
      `${f(r.coldServal / r.coldRie, 2)}× (${f(r.coldServal, 1)} vs ${f(r.coldRie, 1)} ms)`,
      '≤ 1.20×',
      r.coldServal <= 1.2 * r.coldRie,
    ),
    target(
      `${CALLERS} callers, cap ${CAP}`,
      `${r.cap.ok} × 200, ${r.cap.throttled} × 429 TooManyRequestsException, ${r.cap.other} other${r.cap.otherKinds ? ` (${r.cap.otherKinds})` : ''}`,
      `${CAP} × 200, the rest clean 429s`,
      r.cap.ok === CAP && r.cap.throttled === CALLERS - CAP,
    ),
  ].join('\n');
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  return `${DATA_PLANE_HEADING}

- Date: ${new Date().toISOString()}
- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}
- Load average (1 / 5 / 15 min): ${load(r.startLoad)} at the start, ${load(loadavg())} at the end.
- Method: wrk 1 thread, closed loop over keep-alive connections, ${SECONDS} s per row after a warm-up, POST
  \`{"a":1}\` to the same Node echo handler (test/fixtures/functions/node/echo-esm). RIE is
  aws-lambda-runtime-interface-emulator ${RIE_VERSION} with the official aws-lambda-ric; it serves one
  call at a time, so it has a concurrency-1 row only. serverless-offline is not part of this run.
- CPU columns are µs of CPU per invocation from /proc/<pid>/stat: "front" is the process that takes the
  HTTP call (Serval's gateway; RIE itself), "agent" Serval's in-environment agents, "runtime" the Node
  runtime processes. "environments" counts Serval's agents at the end of the row. "wrk CPU" is wrk's
  share of the machine's CPU during the row.

| System | Concurrency | Invocations/s | p50 | p99 | failed | front µs | agent µs | runtime µs | environments | wrk CPU |
|---|---|---|---|---|---|---|---|---|---|---|
${table}

Floors: process start (\`node -e 0\`, p50 of ${COLD}) ${f(r.nodeStart, 1)} ms; cold start (first call of a
new function, p50 of ${COLD}): Serval ${f(r.coldServal, 1)} ms, RIE + aws-lambda-ric ${f(r.coldRie, 1)} ms (a
fresh emulator each time).

| Target | Measured | Goal | |
|---|---|---|---|
${targets}
`;
}

if (import.meta.main) {
  const section = await dataPlaneBench();
  if (!process.env.BENCH_DRY) writeSection(join(ROOT, 'docs/benchmarks.md'), DATA_PLANE_HEADING, section);
  process.stdout.write(section);
}
