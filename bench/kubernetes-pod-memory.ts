// A Node function's pod on the rig's real node, agent pod against in-process pod (ADR-58), A/B interleaved
// in one rig (the controller restarted with nodeInProcess between samples). Each sample is a new 128 MB
// Function applied, invoked cold once and warm BENCH_POD_WARM times; then, from the node, its container's
// memory cgroup (v1: usage, and rss + cache from memory.stat) and each of its processes' smaps_rollup (Rss,
// Pss, private). `SERVAL_REAL_NODE=1 node bench/kubernetes-pod-memory.ts` as root; BENCH_POD_ROUNDS (3).
// Prints only (the numbers go to docs/benchmarks.md by hand, with the load).
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startController } from '../controller/controller.ts';
import type { RealNode } from '../test/kubernetes/node/real-node.ts';
import { functionManifest, type ServalRig, startServalRig } from '../test/kubernetes/rig.ts';

const NS = 'podmem';
const ROUNDS = Number(process.env.BENCH_POD_ROUNDS ?? 3);
const WARM = Number(process.env.BENCH_POD_WARM ?? 50);
const HANDLER =
  "import { createHash } from 'node:crypto';\nexport const handler = async () => createHash('sha256').update('x').digest('hex');";
const MB = 1024 * 1024;

/** The directory of the pod's memory cgroup on the node (cgroupfs driver: …/kubepods/<qos>/pod<uid>). */
function podCgroup(uid: string): string | undefined {
  const walk = (dir: string, depth: number): string | undefined => {
    if (depth > 5) return undefined;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      if (entry.name === `pod${uid}`) return join(dir, entry.name);
      const found = walk(join(dir, entry.name), depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return walk('/sys/fs/cgroup/memory', 0);
}

function smaps(pid: string): { rss: number; pss: number; priv: number } {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('Rss'), pss: kb('Pss'), priv: kb('Private_Clean') + kb('Private_Dirty') };
}

/** The function container's cgroup (not the pause container's): its usage, rss, cache and processes. */
function containerMemory(uid: string) {
  const pod = podCgroup(uid);
  if (!pod) throw new Error(`no memory cgroup for pod ${uid}`);
  for (const entry of readdirSync(pod, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(pod, entry.name);
    const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    const commands = pids.map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim());
    if (commands.some((c) => c.includes('/pause'))) continue;
    const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
    return {
      usageMB: Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'utf8')) / MB,
      rssMB: field('rss') / MB,
      cacheMB: field('cache') / MB,
      processes: pids.map((p, i) => ({ command: commands[i]!.slice(0, 60), ...smaps(p) })),
    };
  }
  throw new Error(`pod ${uid} has no function container cgroup`);
}

async function sample(rig: ServalRig<RealNode>, name: string) {
  await rig.kubectl(['apply', '-f', '-'], functionManifest(NS, name, HANDLER, { memoryMB: 128 }));
  await rig.until(`${name} Ready`, async () =>
    (await rig.json(['get', 'function', name, '-n', NS])).status?.conditions?.some(
      (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
    ),
  );
  const call = () =>
    fetch(`${rig.gateway.url}/2015-03-31/functions/${NS}:function:${name}/invocations`, {
      method: 'POST',
      body: '{}',
      headers: { 'X-Amz-Log-Type': 'Tail' },
    });
  const started = performance.now();
  const res = await call();
  await res.text();
  const wallMs = performance.now() - started;
  if (res.status !== 200) throw new Error(`invoke answered ${res.status}`);
  const tail = Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString('utf8');
  const initMs = Number(/Init Duration: ([\d.]+) ms/.exec(tail)?.[1] ?? Number.NaN);
  const warm: number[] = [];
  let maxUsed = '';
  for (let i = 0; i < WARM; i++) {
    const t = performance.now();
    const r = await call();
    await r.text();
    warm.push(performance.now() - t);
    const t2 = Buffer.from(r.headers.get('x-amz-log-result') ?? '', 'base64').toString('utf8');
    maxUsed = /Max Memory Used: (\d+ MB)/.exec(t2)?.[1] ?? maxUsed;
  }
  warm.sort((a, b) => a - b);
  const [pod] = (await rig.json(['get', 'pods', '-n', NS, '-l', `serval.dev/function=${name}`])).items;
  const memory = containerMemory(pod.metadata.uid);
  await rig.kubectl(['delete', 'function', name, '-n', NS, '--wait=true']);
  return { wallMs, initMs, warmP50: warm[Math.floor(warm.length / 2)]!, maxUsed, memory };
}

const rig = await startServalRig([NS], { realNode: true });
let controller = rig.controller;
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const inProcess of [true, false]) {
      await controller.stop();
      const config = rig.controllerConfig(`bench-${round}-${inProcess}`);
      controller = await startController(
        rig.controllerKc,
        { ...config, nodeInProcess: inProcess },
        () => undefined,
      );
      const mode = inProcess ? 'in-process' : 'agent';
      const s = await sample(rig, `mem-${round}-${inProcess ? 'one' : 'agent'}`);
      const procs = s.memory.processes
        .map(
          (p) =>
            `${p.command}: rss ${(p.rss / 1024).toFixed(1)} pss ${(p.pss / 1024).toFixed(1)} private ${(p.priv / 1024).toFixed(1)} MB`,
        )
        .join('; ');
      console.log(
        `round ${round} ${mode}: cold ${Math.round(s.wallMs)} ms wall, Init Duration ${s.initMs} ms, warm p50 ${s.warmP50.toFixed(1)} ms, Max Memory Used ${s.maxUsed}; container usage ${s.memory.usageMB.toFixed(1)} MB (rss ${s.memory.rssMB.toFixed(1)}, cache ${s.memory.cacheMB.toFixed(1)}); ${procs}; load ${loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
} finally {
  await controller.stop();
  await rig.stop();
}
