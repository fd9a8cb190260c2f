// One runtime process: spawned in its own process group (and memory cgroup, where the provider gave one),
// output forwarded, killed as a group, its memory read and, without a cgroup, its limit watched.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, readSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { ProcStatus } from './proc-status.ts';

/** How long output may trail a process's exit before it is no longer waited for. */
const OUTPUT_DRAIN_MS = 100;
const TREE_WALK_INTERVAL_MS = 1000;
/** Without a cgroup the limit is enforced by sampling the tree's resident memory this often. */
const MEMORY_SAMPLE_MS = 100;
/** The runtime joins its cgroup (the fd the agent holds, as its fd 4) before it runs any of its own code. */
const JOIN_CGROUP = 'echo 0 >&4 && exec 4>&- "$@"';

export interface MemoryCgroupFds {
  procs: number;
  peak: number;
  events: number;
}

export interface RuntimeLimits {
  memoryMB: number;
  cgroup: MemoryCgroupFds | undefined;
  /**
   * In a pod, the container's own memory cgroup (its `oom_kill` count): the container's limit covers the
   * agent too, so the kernel kills the runtime before the resident-memory watch sees it over its limit.
   */
  containerMemoryEvents?: string | undefined;
  /**
   * A pre-started runtime (ADR-50): its fd 3 is a pipe on which it waits, before loading any function code,
   * for the one line that specialises it (see specialise()).
   */
  specialisable?: boolean | undefined;
}

export interface RuntimeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class RuntimeProcess {
  readonly exited: Promise<RuntimeExit>;
  private readonly child: ChildProcess;
  private readonly cgroup: MemoryCgroupFds | undefined;
  private readonly oomKillsBefore: number;
  private readonly containerEvents: string | undefined;
  private readonly containerOomKillsBefore: number;
  private overLimit = false;
  private peakMB = 0;
  private lastTreeWalk = Number.NEGATIVE_INFINITY;
  /** The runtime's own status file, held open: it is read at the end of every invocation. */
  private readonly status: ProcStatus | undefined;

  constructor(
    file: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    output: (s: string) => void,
    limits: RuntimeLimits,
  ) {
    const { cgroup } = limits;
    this.cgroup = cgroup;
    this.oomKillsBefore = cgroup ? oomKills(cgroup.events) : 0;
    this.containerEvents = limits.containerMemoryEvents;
    this.containerOomKillsBefore = this.containerOomKills();
    const fd3 = limits.specialisable ? 'pipe' : 'ignore';
    this.child = cgroup
      ? spawn('/bin/sh', ['-c', JOIN_CGROUP, 'sh', file, ...args], {
          // by path: the function's PATH need not hold sh
          cwd,
          env,
          stdio: ['ignore', 'pipe', 'pipe', fd3, cgroup.procs],
          detached: true,
        })
      : spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe', fd3], detached: true });
    this.child.stdout!.setEncoding('utf8').on('data', output);
    this.child.stderr!.setEncoding('utf8').on('data', output);
    this.exited = new Promise((resolve) => {
      this.child.once('error', () => resolve({ code: 127, signal: null }));
      // 'close' comes once the output pipes are drained too; a grandchild holding them open must not
      // delay the verdict, so 'exit' plus a short grace also settles it.
      this.child.once('close', (code, signal) => resolve({ code, signal }));
      this.child.once('exit', (code, signal) => {
        setTimeout(() => resolve({ code, signal }), OUTPUT_DRAIN_MS).unref();
      });
    });
    if (!cgroup) this.watchMemory(limits.memoryMB);
    const pid = this.child.pid;
    this.status = !cgroup && pid !== undefined ? new ProcStatus(pid) : undefined;
    void this.exited.then(() => this.status?.close());
  }

  /** Whether the runtime was ended for going over its memory (the cgroup's OOM killer, or the watch). */
  get killedForMemory(): boolean {
    return (
      this.overLimit ||
      (this.cgroup !== undefined && oomKills(this.cgroup.events) > this.oomKillsBefore) ||
      this.containerOomKills() > this.containerOomKillsBefore
    );
  }

  private containerOomKills(): number {
    if (!this.containerEvents) return 0;
    try {
      return oomKillCount(readFileSync(this.containerEvents, 'utf8'));
    } catch {
      return 0;
    }
  }

  /**
   * Samples the tree's resident memory: the last sample is the peak a killed runtime leaves. The whole
   * tree costs a read per thread and process, so it is walked once a second; in between, the runtime's own
   * resident memory is read through the held status descriptor (one read) and its children's taken as last
   * walked: 44–60 µs of CPU per walk of a 7-thread Node runtime against 8–9 µs per held read, ten times a
   * second in every environment without a cgroup, idle or not.
   */
  private watchMemory(limitMB: number): void {
    const pid = this.child.pid;
    if (pid === undefined || process.platform !== 'linux') return;
    let childrenKb = 0;
    let lastWalk = Number.NEGATIVE_INFINITY;
    const timer = setInterval(() => {
      const now = performance.now();
      let kb: number;
      if (this.status && now - lastWalk < TREE_WALK_INTERVAL_MS) {
        kb = this.status.kb('VmRSS') + childrenKb;
      } else {
        lastWalk = now;
        const [own = 0, ...children] = treePids(pid).map((p) => statusKb(p, 'VmRSS'));
        childrenKb = children.reduce((sum, c) => sum + c, 0);
        kb = own + childrenKb;
      }
      const residentMB = Math.ceil(kb / 1024);
      this.peakMB = Math.max(this.peakMB, residentMB);
      if (residentMB > limitMB && !this.overLimit) {
        this.overLimit = true;
        this.kill();
      }
    }, MEMORY_SAMPLE_MS);
    timer.unref();
    void this.exited.then(() => clearInterval(timer));
  }

  /**
   * Hands a pre-started runtime its function, as one JSON line on its fd 3 (then closed): the variables its
   * process holds from now on, its working directory, and which variables it was started with (`started`):
   * it drops those and keeps only what it set itself at start (sh's PWD, Python's locale coercion), as a
   * runtime started with `env` would have.
   */
  specialise(env: Record<string, string>, cwd: string, started: string[]): void {
    const pipe = this.child.stdio[3] as Writable | null | undefined;
    pipe?.on('error', () => undefined); // a runtime that died meanwhile shows as its exit
    pipe?.end(`${JSON.stringify({ env, cwd, started })}\n`);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      process.kill(-pid, 'SIGKILL'); // the whole group: a bootstrap's children die with it
    } catch {
      this.child.kill('SIGKILL');
    }
  }

  /**
   * Peak memory in MB: the cgroup's peak where there is one, else the peak resident memory of the process
   * tree (Linux /proc), the last known value once it is gone. Walking the tree costs a read per thread, so
   * it happens at most once a second; in between only the runtime's own peak is read, which is what
   * managed runtimes (one process) need.
   */
  maxMemoryUsedMB(): number {
    if (this.cgroup) {
      this.peakMB = Math.max(this.peakMB, Math.ceil(readNumber(this.cgroup.peak) / (1024 * 1024)));
      return this.peakMB;
    }
    const pid = this.child.pid;
    if (pid !== undefined) {
      const now = performance.now();
      const walk = now - this.lastTreeWalk >= TREE_WALK_INTERVAL_MS;
      if (walk) this.lastTreeWalk = now;
      const kb = walk
        ? treePids(pid).reduce((sum, p) => sum + statusKb(p, 'VmHWM'), 0)
        : (this.status?.kb('VmHWM') ?? 0);
      if (kb > 0) this.peakMB = Math.max(this.peakMB, Math.ceil(kb / 1024));
    }
    return this.peakMB;
  }
}

function treePids(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length && out.length < 1024; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // The process is gone or /proc is absent (not Linux).
    }
  }
  return out;
}

function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

const cgroupBuffer = Buffer.allocUnsafe(4096);

/** A cgroup file read afresh through the descriptor the agent holds (it is outside the agent's view). */
function readCgroupFile(fd: number): string {
  const buffer = cgroupBuffer;
  try {
    return buffer.toString('utf8', 0, readSync(fd, buffer, 0, buffer.length, 0));
  } catch {
    return '';
  }
}

function readNumber(fd: number): number {
  return Number(readCgroupFile(fd).trim()) || 0;
}

function oomKills(fd: number): number {
  return oomKillCount(readCgroupFile(fd));
}

/** The `oom_kill N` line of cgroup v2's memory.events and of v1's memory.oom_control. */
function oomKillCount(text: string): number {
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}

/** Go's rendering of a process exit, which Lambda's messages use ("exit status 3", "signal: killed"). */
export function describeExit(exit: RuntimeExit): string {
  if (exit.signal) return `signal: ${SIGNAL_WORDS[exit.signal] ?? exit.signal}`;
  // A runtime the agent did not start (an image's own): only its container's status knows.
  if (exit.code === null) return 'exit status unknown';
  return `exit status ${exit.code ?? 0}`;
}

const SIGNAL_WORDS: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: 'killed',
  SIGTERM: 'terminated',
  SIGSEGV: 'segmentation fault',
  SIGABRT: 'aborted',
  SIGINT: 'interrupt',
  SIGBUS: 'bus error',
  SIGILL: 'illegal instruction',
  SIGFPE: 'floating point exception',
};
