// What is particular to starting an in-process Node environment (ADR-52, ADR-54, ADR-57): its command (a
// supervisor shell, then Node with the agent and the runtime in one process), its call ledger, the link
// handed in twice, and the deadline watch that ends a handler its own event loop could not (a spin, a
// block outside JavaScript) by telling the supervisor, which kills Node and has the post-mortem answer
// with Sandbox.Timedout.
import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import {
  earliestDeadline,
  LEDGER_SLOT_BYTES,
  LEDGER_SLOTS_AT,
  parseLedger,
} from '../../../../apis/in-process-ledger.ts';
import { linkPair } from './link-pair.ts';

/** The ledger's descriptor in the supervisor (supervise.sh): the provider opens it, Node reopens it there. */
export const LEDGER_FD = 7;
/** How often the deadline watch reads every in-process environment's ledger. */
const TICK_MS = 250;
/**
 * After a deadline the environment's own timer gets this long to answer (with the handler's log lines)
 * before the supervisor is told: a loaded machine runs timers late, and an outside kill loses those lines.
 */
const GRACE_MS = 500;
/** After the supervisor was told, how long Node and the post-mortem may take before the sandbox is killed. */
const KILL_AFTER_MS = 5000;

/** The supervisor's command line: it starts Node, and the post-mortem if Node dies of a signal. */
export function inProcessArgv(
  shims: { inProcessSupervisor: string; inProcessPostMortem: string; inProcessMain: string },
  memoryMB: number,
): string[] {
  // Lambda's Node bootstrap caps the old generation at 90 % of the function's memory (runtime-command.ts).
  const heap = Math.floor((memoryMB * 90) / 100);
  const node = [process.execPath, `--max-old-space-size=${heap}`, shims.inProcessMain];
  // By path: sh is the system's (the sandbox shows /bin), whatever PATH says.
  return ['/bin/sh', shims.inProcessSupervisor, shims.inProcessPostMortem, ...node];
}

/**
 * The call ledger's file, opened here and unlinked at once: the supervisor inherits the descriptor (fd 7,
 * reopened by Node through /proc/self/fd/7), so the file is in nobody's view, the sandbox's included, and
 * the deadline watch reads the same bytes.
 */
export function openLedger(envDir: string): { fd: number; path: string } {
  const path = join(envDir, 'in-process-calls');
  const fd = openSync(path, 'w+', 0o600);
  unlinkSync(path);
  return { fd, path: `/proc/self/fd/${LEDGER_FD}` };
}

/**
 * Hands the link in once the socket pair exists and a reset predecessor's /tmp is settled: as fd 3, which
 * the supervisor keeps for the post-mortem, and over the IPC channel, where Node receives it close-on-exec.
 */
export function linkInProcess(options: {
  previous: Promise<void>;
  stopped: () => boolean;
  begin: (environmentEnd: Duplex) => ChildProcess;
  onLink: ((link: Duplex) => void) | undefined;
  /** No environment will start (`reason` says why, if it is worth a log line). */
  abandon: (reason?: string) => void;
}): void {
  void Promise.all([linkPair(), options.previous]).then(
    ([{ gateway, environment }]) => {
      if (options.stopped()) {
        gateway.destroy();
        environment.destroy();
        options.abandon();
        return;
      }
      const started = options.begin(environment);
      started.once('error', () => environment.destroy());
      if (started.pid === undefined) {
        gateway.destroy();
        return;
      }
      started.send({ type: 'link' }, environment, () => started.disconnect());
      options.onLink?.(gateway);
    },
    (err: Error) => options.abandon(`no link for the environment: ${err.message}`),
  );
}

/** The one child of a sandbox's bwrap, which is the namespace's PID 1 (--as-pid-1): the supervisor. */
export function sandboxedSupervisor(bwrapPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${bwrapPid}/task/${bwrapPid}/children`, 'latin1').trim().split(' ');
    return children.length === 1 && /^\d+$/.test(children[0]!) ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Tells the supervisor its Node process overran a deadline (SIGALRM, supervise.sh's trap); if there is no
 * supervisor to tell, or it has not ended the environment after KILL_AFTER_MS, `kill` ends it outright
 * (the gateway then answers for the call as for a lost environment).
 */
export function endOverdue(
  supervisorPid: number | undefined,
  running: () => boolean,
  kill: () => void,
): void {
  try {
    if (supervisorPid === undefined) throw new Error('no supervisor');
    process.kill(supervisorPid, 'SIGALRM');
  } catch {
    kill();
    return;
  }
  setTimeout(() => {
    if (running()) kill();
  }, KILL_AFTER_MS).unref();
}

interface Watched {
  fd: number;
  buffer: Buffer;
  timeoutSeconds: number;
  overdue: () => void;
  told: boolean;
}

/**
 * One coarse timer for every in-process environment (ADR-57): each tick reads each ledger (one pread of a
 * few hundred bytes) and tells an environment whose earliest deadline passed more than GRACE_MS ago. Nothing
 * is done per call: the ledger's writes are the environment's own. A handler that overran is ended
 * GRACE_MS to GRACE_MS + TICK_MS after its deadline.
 */
export class DeadlineWatch {
  private readonly watched = new Set<Watched>();
  private timer: NodeJS.Timeout | undefined;

  /** Watches one environment's ledger until the returned function is called. */
  watch(fd: number, slots: number, timeoutSeconds: number, overdue: () => void): () => void {
    const entry: Watched = {
      fd,
      // The header and the slots: the spec's facts after them are not needed here.
      buffer: Buffer.alloc(LEDGER_SLOTS_AT + slots * LEDGER_SLOT_BYTES),
      timeoutSeconds,
      overdue,
      told: false,
    };
    this.watched.add(entry);
    this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
    return () => {
      this.watched.delete(entry);
      if (this.watched.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  /**
   * Watches a supervised environment's ledger while `child` (its supervisor, or the sandbox's bwrap around
   * it) runs; `kill` ends it outright.
   */
  watchChild(
    fd: number,
    facts: { timeoutSeconds: number; slots: number },
    child: ChildProcess,
    sandboxed: boolean,
    kill: (child: ChildProcess) => void,
  ): (() => void) | undefined {
    const pid = child.pid;
    if (pid === undefined) return undefined;
    return this.watch(fd, facts.slots, facts.timeoutSeconds, () =>
      endOverdue(
        sandboxed ? sandboxedSupervisor(pid) : pid,
        () => child.exitCode === null && child.signalCode === null,
        () => kill(child),
      ),
    );
  }

  close(): void {
    this.watched.clear();
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const entry of this.watched) {
      if (entry.told) continue;
      // Read twice before acting: a read that met a write half done must not end a call that is on time.
      if (this.late(entry) && this.late(entry)) {
        entry.told = true;
        entry.overdue();
      }
    }
  }

  private late(entry: Watched): boolean {
    let n: number;
    try {
      n = readSync(entry.fd, entry.buffer, 0, entry.buffer.length, 0);
    } catch {
      return false;
    }
    const deadline = earliestDeadline(parseLedger(entry.buffer.subarray(0, n)), entry.timeoutSeconds);
    return deadline !== undefined && deadline + GRACE_MS <= Date.now();
  }
}

export function closeLedger(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}
