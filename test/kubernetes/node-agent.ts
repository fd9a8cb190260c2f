// A test-only kubelet: runs the pods bound to its node as local processes, the way the Serval runtime image
// would run them — the container's command and environment, its volumes as directories — and reports pod
// status back. Paths are mapped: the image's working directory is this repository, and every volume's
// mountPath (in environment values) is the directory that stands in for it; ConfigMap and projected
// ConfigMap volumes are written as the kubelet writes them, and subPath mounts point into them (a function's
// layers under /opt, so /opt stands for the layers' volume). The gateway is on loopback.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { startInformer } from '../../kube/informer.ts';
import { KubeError, requestJson } from '../../kube/request.ts';

const IMAGE_WORKDIR = '/opt/serval';

export interface NodeAgent {
  /** Pods this agent runs now, by namespace/name. */
  running(): string[];
  /** Kills a pod's process as if its container crashed. */
  crash(namespace: string, name: string): boolean;
  /**
   * The node's allocatable CPU in millicores (unlimited when undefined). Like the kubelet's admission, a pod
   * whose CPU request does not fit beside the running pods' is refused: phase Failed, reason OutOfcpu.
   */
  setCpuCapacity(millis: number | undefined): void;
  stop(): Promise<void>;
}

/** A CPU quantity (`250m`, `1`, `0.5`) in millicores. */
function cpuMillis(quantity: string | undefined): number {
  if (!quantity) return 0;
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) : Math.round(Number(quantity) * 1000);
}

interface Running {
  child: ChildProcess;
  dir: string;
  log: string[];
}

export async function startNodeAgent(options: {
  kc: KubeConfig;
  nodeName: string;
  /** What the runtime image holds at /opt/serval: the shims built as JavaScript (ADR-56). */
  imageRoot: string;
  workDir: string;
}): Promise<NodeAgent> {
  const { kc, nodeName, imageRoot, workDir } = options;
  const processes = new Map<string, Running>();
  const claimed = new Set<string>();
  let cpuCapacity: number | undefined;
  /** CPU requested by the pods this node has admitted and not yet finished. */
  const admitted = new Map<string, number>();
  const key = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.name}`;
  const podPath = (p: V1Pod) => `/api/v1/namespaces/${p.metadata?.namespace}/pods/${p.metadata?.name}`;

  const patchStatus = async (pod: V1Pod, status: Record<string, unknown>) => {
    await requestJson(kc, `${podPath(pod)}/status`, {
      method: 'PATCH',
      body: { status },
      contentType: 'application/merge-patch+json',
    }).catch(() => undefined);
  };

  const finalize = async (pod: V1Pod) => {
    const running = processes.get(key(pod));
    processes.delete(key(pod));
    claimed.delete(key(pod));
    admitted.delete(key(pod));
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      const exited = new Promise((r) => running.child.once('exit', r));
      // Taken now: once the agent is gone, its runtime is re-parented and no longer looks like its child.
      const tree = processTree(running.child.pid!);
      try {
        process.kill(-running.child.pid!, 'SIGTERM');
      } catch {}
      const timer = setTimeout(() => {
        for (const pid of tree) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }
      }, 2000);
      await exited;
      clearTimeout(timer);
      // Whatever the agent left behind goes with the container, as a cgroup kill would take it.
      for (const pid of tree.slice(1)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
    if (running) rmSync(running.dir, { recursive: true, force: true });
    // No kubelet confirms the deletion, so this one does: grace period 0 removes the object.
    if (pod.metadata?.deletionTimestamp) {
      await requestJson(kc, `${podPath(pod)}?gracePeriodSeconds=0`, { method: 'DELETE' }).catch((err) => {
        if (!(err instanceof KubeError && err.status === 404)) throw err;
      });
    }
  };

  const start = async (pod: V1Pod) => {
    const container = pod.spec?.containers[0];
    if (!container) return;
    const requested = cpuMillis(container.resources?.requests?.cpu);
    const used = [...admitted.values()].reduce((a, b) => a + b, 0);
    if (cpuCapacity !== undefined && used + requested > cpuCapacity) {
      // The kubelet's words (lifecycle/predicate.go), so the controller reads what a real node reports.
      await patchStatus(pod, {
        phase: 'Failed',
        reason: 'OutOfcpu',
        message: `Pod was rejected: Node didn't have enough resource: cpu, requested: ${requested}, used: ${used}, capacity: ${cpuCapacity}`,
      });
      return;
    }
    admitted.set(key(pod), requested);
    const dir = join(workDir, `${pod.metadata?.namespace}-${pod.metadata?.name}`);
    mkdirSync(dir, { recursive: true });
    const mounts = new Map<string, string>();
    /** A directory whose entries are subPath mounts of one volume, each at its own name, stands for it. */
    const parents = new Map<string, string>();
    for (const volume of pod.spec?.volumes ?? []) {
      const local = join(dir, 'volumes', volume.name);
      mkdirSync(local, { recursive: true });
      // A ConfigMap volume, or a projected volume's ConfigMap sources (a function's layers) into one directory.
      const sources = volume.configMap
        ? [volume.configMap]
        : (volume.projected?.sources ?? []).flatMap((s) => (s.configMap ? [s.configMap] : []));
      const defaultMode = volume.configMap?.defaultMode ?? volume.projected?.defaultMode ?? 0o644;
      for (const source of sources) {
        const cm = (await requestJson(
          kc,
          `/api/v1/namespaces/${pod.metadata?.namespace}/configmaps/${source.name}`,
        )) as { data?: Record<string, string>; binaryData?: Record<string, string> };
        const contents = new Map<string, Buffer>();
        for (const [k, text] of Object.entries(cm.data ?? {})) contents.set(k, Buffer.from(text));
        for (const [k, b64] of Object.entries(cm.binaryData ?? {}))
          contents.set(k, Buffer.from(b64, 'base64'));
        // `items` maps keys to paths, as the kubelet does; without it every key is a file.
        const items: { key: string; path: string; mode?: number }[] =
          source.items ?? [...contents.keys()].map((k) => ({ key: k, path: k }));
        for (const item of items) {
          const target = join(local, item.path);
          mkdirSync(dirname(target), { recursive: true });
          writeFileSync(target, contents.get(item.key) ?? '', { mode: item.mode ?? defaultMode });
        }
      }
      for (const mount of container.volumeMounts?.filter((m) => m.name === volume.name) ?? []) {
        if (!mount.subPath) {
          mounts.set(mount.mountPath, local);
          continue;
        }
        mounts.set(mount.mountPath, join(local, mount.subPath));
        if (mount.mountPath.endsWith(`/${mount.subPath}`))
          parents.set(mount.mountPath.slice(0, -mount.subPath.length - 1), local);
      }
    }
    const mapPath = (value: string) => {
      for (const [from, to] of mounts) {
        if (value === from || value.startsWith(`${from}/`)) return to + value.slice(from.length);
      }
      if (value === IMAGE_WORKDIR || value.startsWith(`${IMAGE_WORKDIR}/`))
        return imageRoot + value.slice(IMAGE_WORKDIR.length);
      // After the image's directory: /opt stands for the layers, but /opt/serval is still the agent.
      for (const [from, to] of parents) {
        if (value === from || value.startsWith(`${from}/`)) return to + value.slice(from.length);
      }
      return value;
    };
    // The image's `node` is first on its PATH (an in-process pod's pod.sh runs it by name): this Node.
    const path = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
    const env: Record<string, string> = { PATH: path, HOME: process.env.HOME ?? '' };
    if (process.env.SERVAL_CACHE) env.SERVAL_CACHE = process.env.SERVAL_CACHE;
    for (const from of container.envFrom ?? []) {
      if (!from.secretRef?.name) continue;
      const secret = (await requestJson(
        kc,
        `/api/v1/namespaces/${pod.metadata?.namespace}/secrets/${from.secretRef.name}`,
      )) as {
        data?: Record<string, string>;
      };
      for (const [k, v] of Object.entries(secret.data ?? {}))
        env[`${from.prefix ?? ''}${k}`] = Buffer.from(v, 'base64').toString('utf8');
    }
    for (const e of container.env ?? []) {
      // A local process has no container cgroup: the host's would count other processes' OOM kills.
      if (e.value !== undefined && e.name !== 'SERVAL_CONTAINER_MEMORY_EVENTS')
        env[e.name] = mapPath(e.value);
    }
    const [command = 'node', ...commandArgs] = [...(container.command ?? []), ...(container.args ?? [])];
    const file = command === 'node' ? process.execPath : command;
    const cwd = mapPath(container.workingDir ?? IMAGE_WORKDIR);
    const child = spawn(file, commandArgs, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const log: string[] = [];
    child.stdout?.on('data', (c) => log.push(String(c)));
    child.stderr?.on('data', (c) => log.push(String(c)));
    processes.set(key(pod), { child, dir, log });
    const now = new Date().toISOString();
    child.once('spawn', () => {
      void patchStatus(pod, {
        phase: 'Running',
        podIP: '127.0.0.1',
        hostIP: '127.0.0.1',
        startTime: now,
        conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            imageID: '',
            ready: true,
            started: true,
            restartCount: 0,
            state: { running: { startedAt: now } },
          },
        ],
      });
    });
    child.once('exit', (code, signal) => {
      if (processes.get(key(pod))?.child !== child) return;
      admitted.delete(key(pod));
      const at = new Date().toISOString();
      void patchStatus(pod, {
        phase: code === 0 ? 'Succeeded' : 'Failed',
        conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: at }],
        containerStatuses: [
          {
            name: container.name,
            image: container.image,
            imageID: '',
            ready: false,
            started: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: code ?? 137,
                reason: signal ? `Killed (${signal})` : 'Exited',
                finishedAt: at,
              },
            },
          },
        ],
      });
    });
  };

  const informer = startInformer<V1Pod>(
    kc,
    '/api/v1/pods',
    {
      upsert: (pod) => {
        if (pod.metadata?.deletionTimestamp) {
          void finalize(pod);
          return;
        }
        const phase = pod.status?.phase;
        if (!claimed.has(key(pod)) && (phase === undefined || phase === 'Pending')) {
          claimed.add(key(pod)); // before the volumes load, so a repeated event does not start it twice
          void start(pod).catch((err) => {
            void patchStatus(pod, { phase: 'Failed', reason: 'NodeAgentError', message: String(err) });
          });
        }
      },
      remove: (pod) => void finalize({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: undefined } }),
    },
    { fieldSelector: `spec.nodeName=${nodeName}`, resyncMs: 30_000 },
  );
  await informer.synced;

  return {
    running: () => [...processes.keys()],
    crash(namespace, name) {
      const running = processes.get(`${namespace}/${name}`);
      return signalTree(running?.child.pid, 'SIGKILL');
    },
    setCpuCapacity(millis) {
      cpuCapacity = millis;
    },
    async stop() {
      await informer.stop();
      for (const [k, r] of processes) {
        signalTree(r.child.pid, 'SIGKILL');
        processes.delete(k);
      }
    },
  };
}

/** The pid and every process below it, as a container's cgroup would hold them. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {}
  }
  const all: number[] = [];
  const walk = (pid: number) => {
    all.push(pid);
    for (const child of children.get(pid) ?? []) walk(child);
  };
  walk(root);
  return all;
}

/** Signals a pod's whole process tree: the runtimes the agent started live in process groups of their own. */
function signalTree(root: number | undefined, signal: NodeJS.Signals): boolean {
  if (!root) return false;
  let any = false;
  for (const pid of processTree(root)) {
    try {
      process.kill(pid, signal);
      any = true;
    } catch {}
  }
  return any;
}
