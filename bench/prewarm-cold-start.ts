// Local cold starts with and without a pre-warmed environment waiting (ADR-50): the first call of a new
// function each time, wall time at the caller and CPU of the gateway and of every process it started
// (utime + stime of the live ones, plus what they reaped: the sandbox's short-lived set-up processes).
// Run: node bench/prewarm-cold-start.ts [calls]; say the load (uptime) with the numbers.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServal } from '../test/support/serval.ts';

const CALLS = Number(process.argv[2] ?? 15);
const TICK_MS = 10; // USER_HZ 100

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

/** What a descendant is: the agent, a runtime, or the sandbox's set-up. */
function role(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (/agent\/main\.[jt]s/.test(cmd)) return 'agent';
    if (cmd.includes('bootstrap')) return 'runtime';
    return 'other';
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

async function run(prewarm: number) {
  const root = mkdtempSync('/var/tmp/serval-bench-prewarm-');
  const names = Array.from({ length: CALLS + 1 }, (_, i) => `f${i}`);
  const functions = names.map((name) => {
    const dir = join(root, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.mjs'), 'export const handler = async (e) => ({ ok: true, e });\n');
    return { name, runtime: 'nodejs24.x', handler: 'index.handler', codePath: dir };
  });
  const serval = await startServal({ functions, env: { SERVAL_LOCAL_PREWARM: String(prewarm) } });
  const wall: number[] = [];
  const gatewayCpu: number[] = [];
  const envCpu: number[] = [];
  const init: number[] = [];
  const byRole: Record<string, number> = {};
  try {
    await serval.invoke('f0'); // the profile's first cold start: from now on it has demand
    for (const [i, name] of names.slice(1).entries()) {
      // With pre-warming: until the refill's runtime is up (one runtime per function so far, plus it).
      const deadline = performance.now() + 30_000;
      const runtimes = () => descendants(process.pid).filter((p) => role(p) === 'runtime').length;
      while (prewarm > 0 && runtimes() < i + 2 && performance.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 2000)); // its modules loaded, the machine quiet again
      const before = childCpu();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await serval.invoke(name);
      wall.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      gatewayCpu.push((cpu.user + cpu.system) / 1000);
      // Only the function's own environment: the pool's refill starts later (its delay).
      let env = 0;
      for (const [pid, ms] of childCpu()) {
        const delta = ms - (before.get(pid) ?? 0);
        env += delta;
        const r = role(pid);
        byRole[r] = (byRole[r] ?? 0) + delta / CALLS;
      }
      envCpu.push(env);
      init.push(Number(/Init Duration: ([\d.]+)/.exec(res.logTail)?.[1] ?? Number.NaN));
      if (res.status !== 200) throw new Error(`${name}: ${res.status} ${res.text}`);
    }
  } finally {
    await serval.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const row = (label: string, xs: number[]) =>
    `${label.padEnd(22)} p50 ${percentile(xs, 50).toFixed(1).padStart(7)}  p90 ${percentile(xs, 90).toFixed(1).padStart(7)}`;
  console.log(`SERVAL_LOCAL_PREWARM=${prewarm}, sandboxed=${serval.isolatesTmp}, ${CALLS} first calls`);
  console.log(row('  wall ms', wall));
  console.log(row('  gateway CPU ms', gatewayCpu));
  console.log(row('  environment CPU ms', envCpu));
  console.log(row('  Init Duration ms', init));
  console.log(`  environment CPU ms per first call, mean by process: ${JSON.stringify(byRole)}`);
}

console.log(`load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
await run(1);
await run(0);
console.log(`load: ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
process.exit(0);
