// Agent mode against in-process mode (ADR-52) on the same Node echo handler, interleaved in one run: two
// `serval dev` gateways, one with SERVAL_NODE_IN_PROCESS=on, measured in turns at concurrency 1 and 8 with
// wrk. CPU per invocation is taken from /proc per process role (gateway, agent, runtime, in-process
// environment); memory is one warm environment's smaps_rollup (PSS and private pages, its processes summed).
// Run: node bench/in-process.ts [rounds=3] [seconds=5]
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuByRole, cpuTree, type ProcessCpu, stop, wrk } from './load-tools.ts';
import { ROOT, startServalProcess } from './serval-process.ts';

const ROUNDS = Number(process.argv[2] ?? 3);
const SECONDS = Number(process.argv[3] ?? 5);
const ECHO = join(ROOT, 'test/fixtures/functions/node/echo-esm');

function roleOf(p: ProcessCpu): string {
  if (p.depth === 0) return 'gateway';
  if (p.cmdline.includes('in-process/main.ts')) return 'in-process';
  if (p.cmdline.includes('agent/main.ts')) return 'agent';
  if (p.cmdline.includes('node/bootstrap.ts')) return 'runtime';
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

/** One environment's memory: its processes (agent and runtime, or the one in-process) summed. */
function environmentMemory(gatewayPid: number): Memory {
  const tree = cpuTree(gatewayPid);
  const envRoles = new Set(['agent', 'runtime', 'in-process']);
  const out: Memory = { rssKb: 0, pssKb: 0, privateKb: 0, processes: 0 };
  for (const [pid, p] of tree) {
    if (!envRoles.has(roleOf(p))) continue;
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    out.rssKb += kb('Rss');
    out.pssKb += kb('Pss');
    out.privateKb += kb('Private_Clean') + kb('Private_Dirty');
    out.processes++;
  }
  return out;
}

async function main() {
  const modes: Array<{ name: string; env: Record<string, string> }> = [
    { name: 'agent', env: {} },
    { name: 'in-process', env: { SERVAL_NODE_IN_PROCESS: 'on' } },
  ];
  const servals = [];
  for (const mode of modes) {
    const dir = manifests();
    const serval = await startServalProcess(join(dir, 'manifests'), {
      SERVAL_DATA_DIR: join(dir, 'data'),
      ...mode.env,
    });
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
      const m = environmentMemory(s.child.pid!);
      say(
        `memory ${s.name}: ${m.processes} process(es), RSS ${(m.rssKb / 1024).toFixed(1)} MB, PSS ${(m.pssKb / 1024).toFixed(1)} MB, private ${(m.privateKb / 1024).toFixed(1)} MB`,
      );
    }
    say(
      'round | mode | c | req/s | p50 ms | p99 ms | failures | CPU µs/invocation: gateway, agent, runtime, in-process',
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const c of [1, 8]) {
        for (const s of servals) {
          await wrk(s.url, c, 1); // warm at this concurrency (environments started)
          const before = cpuTree(s.child.pid!);
          const r = await wrk(s.url, c, SECONDS);
          const cpu = cpuByRole(before, cpuTree(s.child.pid!), roleOf);
          const per = (role: string) => (((cpu.get(role) ?? 0) * 1e6) / Math.max(1, r.requests)).toFixed(0);
          say(
            `${round} | ${s.name} | ${c} | ${r.rate.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${r.failures} | ${per('gateway')}, ${per('agent')}, ${per('runtime')}, ${per('in-process')}`,
          );
        }
      }
    }
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
