// Enforces deadlines the environment's own event loop cannot: a handler that spins forever never lets a
// timer run. A worker thread sleeps until the earliest deadline the main thread armed, plus a grace; if
// that deadline is still armed then, it asks the main thread, through the inspector (whose messages reach a
// busy isolate as interrupts), to run the environment's overdue check, which writes the timeout's result
// and ends the process. A main thread blocked outside JavaScript (a synchronous child process, Atomics.wait)
// is beyond that: after a longer grace the worker kills the process, and the gateway loses the link.
//
// The main thread arms by storing the deadline, without waking the worker unless it now comes sooner than the
// worker's own wake-up: with a steady stream of invocations the worker wakes about once per timeout period,
// not once per invocation.
import { Worker } from 'node:worker_threads';

/** After its deadline the main thread's own timer gets this long before the worker steps in. */
const GRACE_MS = 100;
/** After the interrupt, how long the main thread may take to end before the worker kills the process. */
const KILL_AFTER_MS = 2000;
export const OVERDUE = Symbol.for('serval.in-process.overdue');

// Slots of the shared Int32Array: deadlines are ms since `base`, 0 for none.
const DEADLINE = 0;
const GENERATION = 1;
const WAKE_AT = 2;

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { shared, base, graceMs, killAfterMs, linkFd } = workerData;
const s = new Int32Array(shared);
let poked = 0;
let session;
// Blocking waits: the worker has nothing else to do, and a pending Atomics.waitAsync would not hold its loop.
for (;;) {
  const generation = Atomics.load(s, ${GENERATION});
  const deadline = Atomics.load(s, ${DEADLINE});
  if (deadline === 0) {
    Atomics.store(s, ${WAKE_AT}, 0x7fffffff);
    Atomics.wait(s, ${GENERATION}, generation);
    continue;
  }
  const wakeAt = deadline + graceMs;
  const wait = base + wakeAt - Date.now();
  if (wait > 0) {
    Atomics.store(s, ${WAKE_AT}, wakeAt);
    Atomics.wait(s, ${GENERATION}, generation, wait);
    continue;
  }
  if (poked !== deadline) {
    poked = deadline;
    poke();
  }
  Atomics.wait(s, ${GENERATION}, generation, killAfterMs);
  if (Atomics.load(s, ${DEADLINE}) === deadline) kill();
}
function poke() {
  const { Session } = require('node:inspector');
  if (!session) {
    session = new Session();
    session.connectToMainThread();
  }
  session.post('Runtime.evaluate', { expression: 'globalThis[Symbol.for("serval.in-process.overdue")]()' }, () => {});
}
function kill() {
  try { process.kill(process.pid, 'SIGKILL'); } catch {}
  // As PID 1 of a sandbox the process ignores its own SIGKILL: closing the link ends it from outside.
  try { require('node:fs').closeSync(linkFd); } catch {}
}
`;

export class Watchdog {
  private readonly shared = new Int32Array(new SharedArrayBuffer(12));
  private readonly base = Date.now();
  private readonly worker: Worker;

  /** `overdue` runs on the main thread, possibly in the middle of a handler's code: it must not return. */
  constructor(overdue: () => void, linkFd: number | undefined) {
    this.shared[WAKE_AT] = 0x7fffffff;
    Object.defineProperty(globalThis, OVERDUE, { value: overdue });
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        shared: this.shared.buffer,
        base: this.base,
        graceMs: GRACE_MS,
        killAfterMs: KILL_AFTER_MS,
        linkFd: linkFd ?? -1,
      },
      // Small young generation: it allocates next to nothing (a tighter old-space limit fails its start).
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
    // A watchdog that failed must not take the environment with it; deadlines then rest on the loop's timers.
    this.worker.on('error', (err) =>
      process.stderr.write(`serval: the timeout watchdog failed: ${err.message}\n`),
    );
  }

  /** The earliest deadline (epoch ms) of what runs now, or undefined when nothing does. */
  arm(deadlineMs: number | undefined): void {
    const s = this.shared;
    const at = deadlineMs === undefined ? 0 : Math.max(1, Math.ceil(deadlineMs - this.base));
    if (Atomics.load(s, DEADLINE) === at) return;
    Atomics.store(s, DEADLINE, at);
    Atomics.add(s, GENERATION, 1);
    // Only a deadline sooner than the worker's next wake-up needs it awake now.
    if (at !== 0 && at + GRACE_MS < Atomics.load(s, WAKE_AT)) Atomics.notify(s, GENERATION);
  }

  stop(): void {
    void this.worker.terminate();
  }
}
