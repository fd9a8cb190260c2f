// Kubernetes benchmarks on the test control plane (test/kubernetes/cluster.ts; needs build-binaries.sh):
// - memory: the controller's RSS as Functions are applied, up to BENCH_K8S_FUNCTIONS (1,000), against the
//   chart's 512Mi limit;
// - idle: watch restarts per minute at the API server, controller and gateway both running and nothing
//   changing, over BENCH_K8S_IDLE_MINUTES (10); flat means the informers do not pile up restarts (#15).
// `node bench/kubernetes.ts` runs both and replaces the "Kubernetes" section of docs/benchmarks.md;
// `BENCH_KUBERNETES=1 npm run bench` includes it in the full run. Not part of CI. Also:
// BENCH_K8S_SETTLE_SECONDS (130, wait after the last Function), BENCH_K8S_DRY=1 (print, do not write the
// doc), BENCH_K8S_LOGS=1 (controller and gateway stderr), BENCH_K8S_CONTROLLER_NODE_OPTIONS (e.g. a heap
// limit; the chart's --max-old-space-size=256 by default), BENCH_K8S_HEAPSNAPSHOT=1 (SIGUSR2 to the controller at the last Function, for
// --heapsnapshot-signal=SIGUSR2 in its NODE_OPTIONS).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { type Cluster, startCluster } from '../test/kubernetes/cluster.ts';
import { previousSection, writeSection } from './doc-section.ts';

const ROOT = resolve(import.meta.dirname, '..');
const HEADING = '## Kubernetes: controller memory and idle watch restarts';
const FUNCTIONS = Number(process.env.BENCH_K8S_FUNCTIONS ?? 1000);
const IDLE_MINUTES = Number(process.env.BENCH_K8S_IDLE_MINUTES ?? 10);
/** As the chart starts the controller (controller.maxHeapMiB). */
const CONTROLLER_NODE_OPTIONS = process.env.BENCH_K8S_CONTROLLER_NODE_OPTIONS ?? '--max-old-space-size=256';
const SETTLE_SECONDS = Number(process.env.BENCH_K8S_SETTLE_SECONDS ?? 130);
const LINK_KEY = 'bench-link-key-0123456789abcdef';
/** About the size of a small handler (the examples' are 0.2–2 KB). */
const CODE = `export const handler = async (event) => {\n${'  // padding to a realistic handler size\n'.repeat(40)}  return { ok: true, event };\n};\n`;

async function kubectl(cluster: Cluster, args: string[], input?: string): Promise<string> {
  const r = await cluster.kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return line ? Number(line[1]) / 1024 : Number.NaN;
}

/** What Serval's informers watch; the API server's own loopback informers watch other resources. */
const WATCHED = ['functions', 'aliases', 'pods', 'controllerrevisions'];

/** The API server's count of WATCH requests on the resources Serval watches. */
async function watches(cluster: Cluster): Promise<number> {
  const text = await kubectl(cluster, ['get', '--raw', '/metrics']);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{') || !line.includes('verb="WATCH"')) continue;
    if (WATCHED.some((r) => line.includes(`resource="${r}"`)))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

function serval(command: 'controller' | 'gateway', env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['bin/serval.mjs', command], {
    cwd: ROOT,
    env: { ...process.env, SERVAL_LINK_KEY: LINK_KEY, ...env },
    stdio: ['ignore', 'ignore', process.env.BENCH_K8S_LOGS ? 'inherit' : 'ignore'],
  });
  return child;
}

async function readyCount(cluster: Cluster): Promise<number> {
  const out = await kubectl(cluster, [
    'get',
    'functions',
    '-n',
    'bench',
    '-o',
    'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  return out.split('\n').filter((s) => s === 'True').length;
}

async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function kubernetesBench(): Promise<string> {
  const cluster = await startCluster();
  // The controller polls the gateway's demand; no function is invoked here, so the demand is empty.
  const demand = createServer((_, res) =>
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"environments":[]}'),
  );
  await new Promise<void>((r) => demand.listen(0, '127.0.0.1', r));
  const demandUrl = `127.0.0.1:${(demand.address() as AddressInfo).port}`;
  const children: ChildProcess[] = [];
  try {
    await kubectl(cluster, ['apply', '-f', join(ROOT, 'charts/serval/crds')]);
    await kubectl(cluster, ['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await kubectl(cluster, ['create', 'namespace', 'serval-system']);
    await kubectl(cluster, ['create', 'namespace', 'bench']);
    const kube = { KUBECONFIG: cluster.kubeconfigPath };
    const controller = serval('controller', {
      ...kube,
      SERVAL_GATEWAY_URL: `http://${demandUrl}`,
      SERVAL_LINK_URL: `ws://${demandUrl}`,
      SERVAL_LEASE_NAMESPACE: 'serval-system',
      SERVAL_HEALTH_PORT: '0',
      NODE_OPTIONS: CONTROLLER_NODE_OPTIONS,
    });
    children.push(controller);
    await new Promise((r) => setTimeout(r, 3000));

    const memory: string[] = [`| Functions | controller RSS |`, `|---|---|`];
    const sample = (n: number) => memory.push(`| ${n} | ${rssMiB(controller.pid!).toFixed(0)} MiB |`);
    sample(0);
    const step = Math.max(1, Math.floor(FUNCTIONS / 4));
    for (let applied = 0; applied < FUNCTIONS; ) {
      const batch = Math.min(step, FUNCTIONS - applied);
      for (let i = 0; i < batch; i += 50) {
        const docs = Array.from({ length: Math.min(50, batch - i) }, (_, j) =>
          stringify({
            apiVersion: 'serval.dev/v1alpha1',
            kind: 'Function',
            metadata: { name: `fn-${applied + i + j}`, namespace: 'bench' },
            spec: {
              runtime: 'nodejs24.x',
              handler: 'index.handler',
              code: { inline: { 'index.mjs': CODE } },
            },
          }),
        );
        await kubectl(cluster, ['apply', '-f', '-'], docs.join('---\n'));
      }
      applied += batch;
      await until(`${applied} Functions Ready`, async () => (await readyCount(cluster)) >= applied, 600_000);
      sample(applied);
    }
    if (process.env.BENCH_K8S_HEAPSNAPSHOT) controller.kill('SIGUSR2'); // with --heapsnapshot-signal
    // Resyncs (every 60 s) re-list everything and reconcile every Function again.
    await new Promise((r) => setTimeout(r, SETTLE_SECONDS * 1000));
    memory.push(`| ${FUNCTIONS}, ${SETTLE_SECONDS} s later | ${rssMiB(controller.pid!).toFixed(0)} MiB |`);

    const gateway = serval('gateway', {
      ...kube,
      SERVAL_PORT: '0',
      SERVAL_INTERNAL_PORT: '0',
      SERVAL_DATA_DIR: mkdtempSync(join(tmpdir(), 'serval-bench-k8s-')),
    });
    children.push(gateway);
    await new Promise((r) => setTimeout(r, 5000));
    const idle: string[] = ['| Minute | watch restarts (controller + gateway) |', '|---|---|'];
    let last = await watches(cluster);
    for (let minute = 1; minute <= IDLE_MINUTES; minute++) {
      await new Promise((r) => setTimeout(r, 60_000));
      const now = await watches(cluster);
      idle.push(`| ${minute} | ${now - last} |`);
      last = now;
    }
    return `${HEADING}

Generated by \`node bench/kubernetes.ts\` on the test control plane (etcd + kube-apiserver 1.33, no
node). ${new Date().toISOString()}; ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB.

Controller memory (resident set) with ${FUNCTIONS} inline Functions of ${(CODE.length / 1024).toFixed(1)} KB each, every
one reconciled to Ready (finalizer, code ConfigMap, status, Event), the controller started with
\`NODE_OPTIONS=${CONTROLLER_NODE_OPTIONS}\` as the chart does. The chart's limit is 512Mi.

${memory.join('\n')}

Watch restarts per minute on ${WATCHED.join(', ')}, counted by the API server
(\`apiserver_request_total{verb="WATCH"}\`), with
the controller (Functions, Aliases, pods) and the gateway (Functions, Aliases, ControllerRevisions)
idle, default resync (60 s). Flat is the goal: about one restart per informer per resync.

${idle.join('\n')}
`;
  } finally {
    for (const child of children) child.kill('SIGTERM');
    demand.close();
    await cluster.stop();
  }
}

/** Puts `section` in place of the previous Kubernetes section of docs/benchmarks.md, or before the notes. */
export function writeKubernetesSection(section: string): void {
  writeSection(join(ROOT, 'docs/benchmarks.md'), HEADING, section);
}

/** The section as docs/benchmarks.md has it now, so a run without the Kubernetes part keeps it. */
export function previousKubernetesSection(doc: string): string {
  return previousSection(doc, HEADING);
}

if (import.meta.main) {
  const section = await kubernetesBench();
  if (!process.env.BENCH_K8S_DRY) writeKubernetesSection(section);
  process.stdout.write(section);
}
