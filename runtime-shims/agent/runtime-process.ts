// One runtime process: spawned in its own process group, output forwarded, killed as a group, memory read.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** How long output may trail a process's exit before it is no longer waited for. */
const OUTPUT_DRAIN_MS = 100;
const TREE_WALK_INTERVAL_MS = 1000;

export interface RuntimeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class RuntimeProcess {
  readonly exited: Promise<RuntimeExit>;
  private readonly child: ChildProcess;
  private peakMB = 0;
  private lastTreeWalk = Number.NEGATIVE_INFINITY;

  constructor(
    file: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    output: (s: string) => void,
  ) {
    this.child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
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
   * Peak resident memory of the process tree in MB (Linux /proc); the last known value once it is gone.
   * Walking the tree costs a read per thread, so it happens at most once a second; in between only the
   * runtime's own peak is read, which is what managed runtimes (one process) need.
   */
  maxMemoryUsedMB(): number {
    const pid = this.child.pid;
    if (pid !== undefined) {
      const now = performance.now();
      const walk = now - this.lastTreeWalk >= TREE_WALK_INTERVAL_MS;
      if (walk) this.lastTreeWalk = now;
      const kb = walk ? treePids(pid).reduce((sum, p) => sum + peakKb(p), 0) : peakKb(pid);
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

function peakKb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Go's rendering of a process exit, which Lambda's messages use ("exit status 3", "signal: killed"). */
export function describeExit(exit: RuntimeExit): string {
  if (exit.signal) return `signal: ${SIGNAL_WORDS[exit.signal] ?? exit.signal}`;
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
