// Local cold starts, on demand and from a pre-warmed environment (ADR-50, ADR-55): the first call of a new
// function each time, wall time at the caller and CPU of the gateway and of every process it started
// (utime + stime of the live ones, plus what they reaped: a sandbox's short-lived set-up processes).
//
// Run: node bench/prewarm-cold-start.ts [calls] [rounds] [tree...]; say the load (uptime) with the numbers.
// Each tree (default: this one) is a Serval checkout, so `… 8 2 /work/main .` compares main with this branch
// side by side: every round runs each mode for each tree in turn, each in a process of its own that loads
// that tree's gateway, after `node -e 0` and AWS's emulator with the official Node client (BENCH_NO_RIE=1
// leaves it out). BENCH_MODES picks modes (default on-demand,prewarmed; in-process is on demand with
// SERVAL_NODE_IN_PROCESS=on), BENCH_ISOLATION=off runs them without a sandbox, BENCH_IN_REPO=1 puts the
// functions' code inside the tree (under .serval/), where they resolve packages from its node_modules.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRie, stop, waitForPort } from './load-tools.ts';

const TICK_MS = 10; // USER_HZ 100
const MODES = (process.env.BENCH_MODES ?? 'on-demand,prewarmed').split(',');

interface Sample {
  wall: number;
  gateway: number;
  env: number;
  init: number;
  byRole: Record<string, number>;
}

function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let children = '';
      try {
        children = readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim();
      } catch {}
      for (const c of children.split(/\s+/).filter(Boolean).map(Number)) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

/** What a descendant is: the agent, a runtime, or the sandbox's own process (bwrap, unshare, sh). */
function role(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (/agent\/main\.[jt]s/.test(cmd)) return 'agent';
    if (/in-process\/main\.[jt]s/.test(cmd)) return 'in-process';
    if (cmd.includes('bootstrap')) return 'runtime';
    return 'sandbox';
  } catch {
    return 'gone';
  }
}

/** CPU ms by pid of the gateway's descendants: own plus reaped children's. */
function childCpu(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of descendants(process.pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * TICK_MS);
    } catch {}
  }
  return out;
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** One mode of one tree, in this process: `calls` first calls of new functions. */
async function child(tree: string, mode: string, calls: number): Promise<Sample[]> {
  const { startServal } = await import(join(tree, 'test/support/serval.ts'));
  const prewarm = mode === 'prewarmed' ? 1 : 0;
  const base = process.env.BENCH_IN_REPO ? join(tree, '.serval') : '/var/tmp';
  mkdirSync(base, { recursive: true });
  const root = mkdtempSync(join(base, 'serval-bench-cold-'));
  const names = Array.from({ length: calls + 1 }, (_, i) => `f${i}`);
  const functions = names.map((name) => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (e) => ({ ok: true, e });\n');
    return { name, runtime: 'nodejs24.x', handler: 'index.handler', codePath: dir };
  });
  const env = {
    SERVAL_LOCAL_PREWARM: String(prewarm),
    SERVAL_LOCAL_ISOLATION: process.env.BENCH_ISOLATION ?? 'auto',
    // In-process mode (ADR-52): agent and runtime in one process, started on demand.
    ...(mode === 'in-process' && { SERVAL_NODE_IN_PROCESS: 'on' }),
  };
  const serval = await startServal({ functions, env });
  const samples: Sample[] = [];
  try {
    await serval.invoke('f0'); // the profile's first cold start: from now on it has demand
    for (const [i, name] of names.slice(1).entries()) {
      // With pre-warming: until the refill's runtime is up (one runtime per function so far, plus it).
      const deadline = performance.now() + 30_000;
      const runtimes = () => descendants(process.pid).filter((p) => role(p) === 'runtime').length;
      while (prewarm > 0 && runtimes() < i + 2 && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1500)); // its modules loaded, the machine quiet again
      const before = childCpu();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await serval.invoke(name);
      const wall = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      // Only the function's own environment: the pool's refill starts later (its delay).
      const byRole: Record<string, number> = {};
      let envCpu = 0;
      for (const [pid, ms] of childCpu()) {
        const delta = ms - (before.get(pid) ?? 0);
        envCpu += delta;
        const r = role(pid);
        byRole[r] = (byRole[r] ?? 0) + delta;
      }
      if (res.status !== 200) throw new Error(`${name}: ${res.status} ${res.text}`);
      const init = Number(/Init Duration: ([\d.]+)/.exec(res.logTail)?.[1] ?? Number.NaN);
      samples.push({ wall, gateway: (cpu.user + cpu.system) / 1000, env: envCpu, init, byRole });
    }
  } finally {
    await serval.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return samples;
}

function runChild(tree: string, mode: string, calls: number): Promise<Sample[]> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, [import.meta.filename, '--child', tree, mode, String(calls)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    p.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('[')) resolvePromise(JSON.parse(line) as Sample[]);
      else reject(new Error(`${tree} ${mode}: exited ${code}\n${out}`));
    });
  });
}

function summary(label: string, xs: Sample[]): string {
  const f = (k: 'wall' | 'gateway' | 'env' | 'init') => {
    const v = xs.map((x) => x[k]).filter((x) => !Number.isNaN(x));
    return v.length === 0 ? '–' : `${percentile(v, 50).toFixed(1)} / ${percentile(v, 90).toFixed(1)}`;
  };
  const roles: Record<string, number> = {};
  for (const x of xs)
    for (const [r, ms] of Object.entries(x.byRole)) roles[r] = (roles[r] ?? 0) + ms / xs.length;
  const byRole = Object.entries(roles)
    .filter(([r]) => r !== 'gone')
    .map(([r, ms]) => `${r} ${ms.toFixed(0)}`)
    .join(', ');
  return `| ${label} | ${xs.length} | ${f('wall')} | ${f('gateway')} | ${f('env')} (${byRole}) | ${f('init')} |`;
}

/** AWS's emulator with the official Node client, a fresh pair each time, timed from the first call (as bench/data-plane.ts). */
async function rieCold(calls: number): Promise<Sample[]> {
  const code = mkdtempSync('/var/tmp/serval-bench-rie-');
  writeFileSync(join(code, 'index.mjs'), 'export const handler = async (e) => ({ ok: true, e });\n');
  const port = 18_500;
  const samples: Sample[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      const rie = startRie(resolve(import.meta.dirname, '..'), code, 'index.handler', port);
      try {
        await waitForPort(port);
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${port}/2015-03-31/functions/function/invocations`, {
          method: 'POST',
          body: '{"a":1}',
        });
        await res.text();
        samples.push({
          wall: performance.now() - t0,
          gateway: Number.NaN,
          env: Number.NaN,
          init: Number.NaN,
          byRole: {},
        });
      } finally {
        await stop(rie);
      }
    }
  } finally {
    rmSync(code, { recursive: true, force: true });
  }
  return samples;
}

/** The process-start floor: `node -e 0`, wall time. */
function nodeFloor(calls: number): Sample[] {
  return Array.from({ length: calls }, () => {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0']);
    return {
      wall: performance.now() - t0,
      gateway: Number.NaN,
      env: Number.NaN,
      init: Number.NaN,
      byRole: {},
    };
  });
}

if (process.argv[2] === '--child') {
  const samples = await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));
  console.log(JSON.stringify(samples));
  process.exit(0);
}

const calls = Number(process.argv[2] ?? 8);
const rounds = Number(process.argv[3] ?? 1);
const trees = (process.argv.length > 4 ? process.argv.slice(4) : ['.']).map((t) => resolve(t));
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
console.log(`${new Date().toISOString()} load ${load()}, isolation ${process.env.BENCH_ISOLATION ?? 'auto'}`);
const results = new Map<string, Sample[]>();
const add = (key: string, xs: Sample[]) => results.set(key, [...(results.get(key) ?? []), ...xs]);
for (let r = 0; r < rounds; r++) {
  add('node -e 0', nodeFloor(calls));
  if (!process.env.BENCH_NO_RIE) add('RIE + aws-lambda-ric', await rieCold(calls));
  for (const mode of MODES) {
    for (const tree of trees) {
      add(`${tree} ${mode}`, await runChild(tree, mode, calls));
    }
  }
}
console.log(`${new Date().toISOString()} load ${load()}`);
console.log(
  '| tree, mode | calls | wall p50 / p90 ms | gateway CPU p50 / p90 ms | environment CPU p50 / p90 ms (mean by process) | Init Duration p50 / p90 ms |',
);
console.log('|---|---|---|---|---|---|');
for (const [key, xs] of results) console.log(summary(key, xs));
process.exit(0);
