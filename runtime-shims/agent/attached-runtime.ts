// A runtime the agent did not start: a container-image function's own ENTRYPOINT, running in the pod's other
// container (ADR-40). The pod shares one process namespace, so the runtime is every process of a sibling
// container (a cgroup beside the agent's, under the pod's) except the sandbox's pid 1. Its exit is seen by polling, its memory
// read from /proc, and ending it is a SIGKILL to each of its processes (same uid, so no capability needed).
import { readdirSync, readFileSync } from 'node:fs';
import type { RuntimeExit } from './runtime-process.ts';

const POLL_MS = 50;

export class AttachedRuntime {
  readonly exited: Promise<RuntimeExit>;
  private readonly ownCgroup: string;
  private seen = false;
  private peakMB = 0;

  constructor() {
    this.ownCgroup = cgroupOf('self');
    // Outside such a pod every other process would look like the runtime: refuse rather than kill them.
    if (!isSibling(this.ownCgroup, cgroupOf('1'))) {
      throw new Error(
        'SERVAL_ATTACHED_RUNTIME needs a pod that shares its process namespace (pid 1 its sandbox)',
      );
    }
    this.exited = new Promise((resolve) => {
      const timer = setInterval(() => {
        const alive = this.pids().length > 0;
        if (alive) this.seen = true;
        else if (this.seen) {
          clearInterval(timer);
          // Not the agent's child: its exit status is the kubelet's to know (the pod's status shows it).
          resolve({ code: null, signal: null });
        }
      }, POLL_MS);
    });
  }

  /** Whether any of the runtime's processes has appeared yet (its container may still be starting). */
  get started(): boolean {
    return this.seen || this.pids().length > 0;
  }

  /** Its memory cgroup is its container's, which the agent cannot see: an OOM kill reads as an exit. */
  get killedForMemory(): boolean {
    return false;
  }

  kill(): void {
    for (const pid of this.pids()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }

  /** The sum of its processes' peak resident memory, the last known value once they are gone. */
  maxMemoryUsedMB(): number {
    const kb = this.pids().reduce((sum, pid) => sum + statusKb(pid), 0);
    this.peakMB = Math.max(this.peakMB, Math.ceil(kb / 1024));
    return this.peakMB;
  }

  private pids(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      if (pid === 1 || pid === process.pid) continue;
      const cgroup = cgroupOf(entry);
      // The agent's own container (itself, the kubelet's probes) shares its cgroup; a vanished pid reads ''.
      if (cgroup !== this.ownCgroup && isSibling(this.ownCgroup, cgroup)) pids.push(pid);
    }
    return pids;
  }
}

/** The memory cgroup's path (cgroup v1), or the unified one (v2); '' for a process that is gone. */
function cgroupOf(pid: string): string {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const line =
      lines.find((l) => l.split(':')[1]?.split(',').includes('memory')) ??
      lines.find((l) => l.startsWith('0::'));
    return line?.split(':').slice(2).join(':') ?? '';
  } catch {
    return '';
  }
}

/** Two containers of one pod: cgroups under one parent (a cgroup namespace shows its own as `/`, others as `/../x`). */
export function isSibling(a: string, b: string): boolean {
  const parent = (p: string) => (p === '/' ? '/..' : p.slice(0, p.lastIndexOf('/')) || '/');
  return a !== '' && b !== '' && parent(a) === parent(b);
}

function statusKb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}
