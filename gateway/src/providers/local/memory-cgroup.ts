// Memory cgroups for local environments, nested in the gateway's own cgroup: v2 where that cgroup is
// delegated with the memory controller, v1's memory hierarchy where it is writable (hybrid hosts).
// Each environment's runtime gets one cgroup whose limit is the function's memory; the cgroup is also how
// every process the runtime started is found and ended, and where its real peak is read.
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLiveInstance } from './instance-tag.ts';

interface Layout {
  version: 1 | 2;
  limit: string;
  swapLimit: string | undefined;
  peak: string;
  /** A file with an `oom_kill <count>` line. */
  events: string;
}

const V1: Layout = {
  version: 1,
  limit: 'memory.limit_in_bytes',
  swapLimit: 'memory.memsw.limit_in_bytes',
  peak: 'memory.max_usage_in_bytes',
  events: 'memory.oom_control',
};
const V2: Layout = {
  version: 2,
  limit: 'memory.max',
  swapLimit: 'memory.swap.max',
  peak: 'memory.peak',
  events: 'memory.events',
};

/** File descriptors the agent is handed: it joins its runtime to the cgroup and reads peak and OOM kills. */
export interface CgroupFds {
  procs: number;
  peak: number;
  events: number;
}

export interface EnvironmentCgroup {
  fds: CgroupFds;
  /** Ends every process in the cgroup. */
  killAll(): void;
  /** Closes the descriptors, ends what is left and removes the cgroup once it is empty. */
  remove(): Promise<void>;
}

export class MemoryCgroups {
  readonly version: 1 | 2;
  private readonly layout: Layout;
  private readonly dir: string;

  private constructor(layout: Layout, dir: string) {
    this.layout = layout;
    this.version = layout.version;
    this.dir = dir;
  }

  /** The gateway's own place for environment cgroups, or why there is none. */
  static open(tag: string): MemoryCgroups | string {
    if (process.platform !== 'linux') return 'not Linux';
    const own = ownMemoryCgroup();
    if (!own) return 'no memory cgroup controller is mounted';
    const dir = join(own.path, `serval-${tag}`);
    try {
      removeStale(own.path, own.layout);
      mkdirSync(dir, { recursive: true });
      // v2 gives a child cgroup a memory controller only if its parent hands it down.
      if (own.layout.version === 2) writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory');
      return new MemoryCgroups(own.layout, dir);
    } catch (err) {
      tryRmdir(dir);
      return `the gateway's cgroup ${own.path} is not delegated to it (${(err as Error).message})`;
    }
  }

  create(environmentId: string, memoryMB: number): EnvironmentCgroup {
    const dir = join(this.dir, environmentId);
    mkdirSync(dir);
    const bytes = String(memoryMB * 1024 * 1024);
    writeFileSync(join(dir, this.layout.limit), bytes);
    // Swap would let a function exceed its memory unseen; v1 counts memory plus swap, v2 swap alone.
    const swap = this.layout.swapLimit && join(dir, this.layout.swapLimit);
    if (swap) tryWrite(swap, this.layout.version === 1 ? bytes : '0');
    const fds = {
      procs: openSync(join(dir, 'cgroup.procs'), 'w'),
      peak: openSync(join(dir, this.layout.peak), 'r'),
      events: openSync(join(dir, this.layout.events), 'r'),
    };
    let removed = false;
    return {
      fds,
      killAll: () => killAll(dir, this.layout),
      remove: async () => {
        if (removed) return;
        removed = true;
        for (const fd of Object.values(fds)) closeSync(fd);
        for (let attempt = 0; attempt < 100; attempt++) {
          killAll(dir, this.layout);
          if (tryRmdir(dir)) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      },
    };
  }

  /** Removes the gateway's own parent cgroup (at close, once its environments are gone). */
  close(): void {
    removeTree(this.dir, this.layout);
  }
}

function ownMemoryCgroup(): { path: string; layout: Layout } | undefined {
  const membership = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').trim().split('\n');
  const mountOf = (match: (fstype: string, superOptions: string) => boolean) => {
    for (const line of mounts) {
      const [pre, post] = line.split(' - ');
      const [fstype, , superOptions] = (post ?? '').split(' ');
      if (fstype && match(fstype, superOptions ?? '')) return pre!.split(' ')[4];
    }
    return undefined;
  };
  // v1 first: on a hybrid host the memory controller lives there, and v2's unified tree has none.
  const v1 = membership
    .map((l) => l.split(':'))
    .find(([, controllers]) => controllers?.split(',').includes('memory'));
  const v1Mount = v1 && mountOf((t, o) => t === 'cgroup' && o.split(',').includes('memory'));
  if (v1 && v1Mount) return { path: join(v1Mount, v1.slice(2).join(':')), layout: V1 };
  const v2 = membership.find((l) => l.startsWith('0::'));
  const v2Mount = v2 && mountOf((t) => t === 'cgroup2');
  if (!v2 || !v2Mount) return undefined;
  const path = join(v2Mount, v2.slice(3));
  const controllers = readFileSync(join(path, 'cgroup.subtree_control'), 'utf8');
  return controllers.split(/\s+/).includes('memory') ? { path, layout: V2 } : undefined;
}

/** Cgroups of gateways that are gone (SIGKILLed, crashed): their processes end and the cgroups go. */
function removeStale(parent: string, layout: Layout): void {
  for (const name of safeReaddir(parent)) {
    if (!name.startsWith('serval-') || isLiveInstance(name.slice('serval-'.length)) !== false) continue;
    removeTree(join(parent, name), layout);
  }
}

/** Start-up and close only: ends the processes of a gateway's environments and removes their cgroups. */
function removeTree(dir: string, layout: Layout): void {
  for (const child of [...safeReaddir(dir).map((c) => join(dir, c)), dir]) {
    for (let attempt = 0; attempt < 50; attempt++) {
      killAll(child, layout);
      if (tryRmdir(child)) break;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // a killed process takes a moment to go
    }
  }
}

function killAll(dir: string, layout: Layout): void {
  if (layout.version === 2 && tryWrite(join(dir, 'cgroup.kill'), '1')) return;
  // v1 (and v2 before cgroup.kill): signal what is there until nothing is left to fork.
  for (let round = 0; round < 10; round++) {
    let pids: number[];
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return;
    }
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function tryWrite(file: string, value: string): boolean {
  try {
    writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

/** True once the cgroup is gone; false while processes (or a dying one) still hold it. */
function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'EBUSY';
  }
}
