// Agent mode against in-process mode (ADR-52, the default since ADR-54) on the same Node echo handler,
// interleaved in one run: `serval dev` gateways with SERVAL_NODE_IN_PROCESS=off and on, and, when
// SERVAL_BASELINE_ROOT names another checkout, that checkout's in-process mode too (before/after), measured
// in turns at concurrency 1, 8 and 64 with wrk. CPU per invocation is taken from /proc per process role (gateway, agent, runtime, in-process
// environment); memory is each warm environment's smaps_rollup (PSS and private pages, its processes summed).
// Run: [SERVAL_BASELINE_ROOT=<checkout>] node bench/in-process.ts [rounds=3] [seconds=5] [concurrencies=1,8,64]
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuByRole, cpuTree, type ProcessCpu, stop, wrk } from './load-tools.ts';
import { ROOT, startServalProcess } from './serval-process.ts';

const ROUNDS = Number(process.argv[2] ?? 3);
const SECONDS = Number(process.argv[3] ?? 5);
const CONCURRENCIES = (process.argv[4] ?? '1,8,64').split(',').map(Number);
const ECHO = join(ROOT, 'test/fixtures/functions/node/echo-esm');

function roleOf(p: ProcessCpu): string {
  if (p.depth === 0) return 'gateway';
  // An in-process environment's first process (ADR-54): it only waits.
  if (p.cmdline.includes('supervise.sh')) return 'supervisor';
  // The sandbox's `unshare` wrapper names the agent in its arguments too.
  if (!p.cmdline.split('\0')[0]!.endsWith('node')) return 'other';
  if (/in-process\/main\.[jt]s/.test(p.cmdline)) return 'in-process';
  if (/agent\/main\.[jt]s/.test(p.cmdline)) return 'agent';
  if (/node\/bootstrap\.[jt]s/.test(p.cmdline)) return 'runtime';
  return 'other';
}

function manifests(): string {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-inproc-'));
  mkdirSync(join(dir, 'manifests'));
  writeFileSync(
    join(dir, 'manifests/bench.yaml'),
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: echo}\nspec: {runtime: nodejs24.x, handler: index.handler, code: {path: ${ECHO}}}\n`,
  );
  mkdirSync(join(dir, 'data'));
  return dir;
}

interface Memory {
  rssKb: number;
  pssKb: number;
  privateKb: number;
  processes: number;
}

/** Each environment's memory: its agent with its runtime child, or the one in-process process. */
function environmentsMemory(gatewayPid: number): Memory[] {
  const tree = cpuTree(gatewayPid);
  const parentOf = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };
  const read = (pid: number, into: Memory) => {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    into.rssKb += kb('Rss');
    into.pssKb += kb('Pss');
    into.privateKb += kb('Private_Clean') + kb('Private_Dirty');
    into.processes++;
  };
  const out: Memory[] = [];
  for (const [pid, p] of tree) {
    const role = roleOf(p);
    if (role !== 'agent' && role !== 'in-process') continue;
    const env: Memory = { rssKb: 0, pssKb: 0, privateKb: 0, processes: 0 };
    try {
      read(pid, env);
      for (const [child, c] of tree) if (roleOf(c) === 'runtime' && parentOf(child) === pid) read(child, env);
      // An in-process environment's supervisor is its parent.
      const parent = tree.get(parentOf(pid));
      if (role === 'in-process' && parent && roleOf(parent) === 'supervisor') read(parentOf(pid), env);
    } catch {
      continue; // ended while we looked
    }
    out.push(env);
  }
  return out;
}

function describeMemory(name: string, envs: Memory[]): string {
  const mb = (kb: number) => (kb / 1024).toFixed(1);
  const rows = envs
    .map((m) => `${m.processes}p RSS ${mb(m.rssKb)} PSS ${mb(m.pssKb)} private ${mb(m.privateKb)}`)
    .join('; ');
  return `memory ${name}: ${envs.length} environment(s), MB each: ${rows}`;
}

async function main() {
  const baseline = process.env.SERVAL_BASELINE_ROOT;
  const modes: Array<{ name: string; env: Record<string, string>; root?: string }> = [
    ...(baseline
      ? [{ name: 'baseline in-process', env: { SERVAL_NODE_IN_PROCESS: 'on' }, root: baseline }]
      : []),
    { name: 'agent', env: { SERVAL_NODE_IN_PROCESS: 'off' } },
    { name: 'in-process', env: { SERVAL_NODE_IN_PROCESS: 'on' } },
  ];
  // The order within a round, reversed, shows whether a mode gains from its place in it.
  if (process.env.BENCH_REVERSE === '1') modes.reverse();
  const servals = [];
  for (const mode of modes) {
    const dir = manifests();
    const serval = await startServalProcess(
      join(dir, 'manifests'),
      { SERVAL_DATA_DIR: join(dir, 'data'), ...mode.env },
      mode.root,
    );
    servals.push({ ...mode, ...serval, url: `${serval.url}/2015-03-31/functions/echo/invocations` });
  }
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    console.log(line);
  };
  say(
    `load before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  try {
    // One warm environment each, measured before any concurrent load starts more.
    for (const s of servals) {
      await wrk(s.url, 1, 2);
      await new Promise((r) => setTimeout(r, 500));
      say(
        describeMemory(`${s.name} (first environment, cold compile cache)`, environmentsMemory(s.child.pid!)),
      );
    }
    say(
      'round | mode | c | req/s | p50 ms | p99 ms | failures | CPU µs/invocation: gateway, agent, runtime, in-process, supervisor',
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of CONCURRENCIES) {
        for (const s of servals) {
          await wrk(s.url, c, 1); // warm at this concurrency (environments started)
          const before = cpuTree(s.child.pid!);
          const r = await wrk(s.url, c, SECONDS);
          const cpu = cpuByRole(before, cpuTree(s.child.pid!), roleOf);
          const per = (role: string) => (((cpu.get(role) ?? 0) * 1e6) / Math.max(1, r.requests)).toFixed(0);
          say(
            `${round} | ${s.name} | ${c} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.failures} | ${per('gateway')}, ${per('agent')}, ${per('runtime')}, ${per('in-process')}, ${per('supervisor')}`,
          );
        }
      }
    }
    // Environments started later found their function's compile cache warm (no type stripping loaded).
    for (const s of servals)
      say(describeMemory(`${s.name} (after the rounds)`, environmentsMemory(s.child.pid!)));
  } finally {
    for (const s of servals) await stop(s.child);
  }
  say(
    `load after: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
}

await main();
