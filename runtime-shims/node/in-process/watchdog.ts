// Enforces deadlines the environment's own event loop cannot: a handler that spins forever never lets a
// timer run. A worker thread sleeps until the earliest deadline the main thread armed, plus a grace; if
// that deadline is still armed then, it asks the main thread, through the inspector (whose messages reach a
// busy isolate as interrupts), to run the environment's overdue check, which writes the timeout's result
// and ends the process. A main thread blocked outside JavaScript (a synchronous child process, Atomics.wait)
// is beyond that: after a longer grace the worker writes the timeout's result itself (without the handler's
// log lines, which only the main thread holds) and the link's close, and kills the process.
//
// The main thread arms by storing the deadline, without waking the worker unless it now comes sooner than the
// worker's own wake-up: with a steady stream of invocations the worker wakes about once per timeout period,
// not once per invocation.
import { Worker } from 'node:worker_threads';
import { encodeFrame } from '../../../apis/environment-link.ts';
import { MEMORY_MARK_SOURCE, RESET_LINE } from './call-ledger.ts';
import { closeFrame, messageFrame, WRITE_PATIENCE_MS, webSocketFrame, writeAllSync } from './last-words.ts';

/** After its deadline the main thread's own timer gets this long before the worker steps in. */
const GRACE_MS = 100;
/** After the interrupt, how long the main thread may take to end before the worker kills the process. */
const KILL_AFTER_MS = 2000;
/** Without a memory cgroup the process's resident memory is read this often, as the agent samples its runtime's. */
const MEMORY_SAMPLE_MS = 100;
export const OVERDUE = Symbol.for('serval.in-process.overdue');

// Slots of the shared Int32Array: deadlines are ms since `base`, 0 for none.
const DEADLINE = 0;
const GENERATION = 1;
const WAKE_AT = 2;
/** The armed call's start (ms since `base`) and its request id's length; its bytes follow in `callId`. */
const CALL_STARTED = 3;
const CALL_ID_LENGTH = 4;
const CALL_ID_BYTES = 128;

/** What the worker needs to answer for a call when the main thread cannot. */
export interface LastResort {
  linkFd: number | undefined;
  memorySizeMB: number;
  timeoutSeconds: number;
  /** Text logs get the platform's lines from the worker too; JSON logs get none from it. */
  textLog: boolean;
  /** The supervisor's ledger (call-ledger.ts): marked when the worker said the last words, or ended an overrun. */
  ledgerFd?: number | undefined;
  /** Set where no memory cgroup holds the environment: over this the worker ends the process. */
  memoryLimitMB?: number | undefined;
}

const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { shared, callId, base, graceMs, killAfterMs, resort } = workerData;
const { writeSync } = require('node:fs');
const s = new Int32Array(shared);
const WRITE_PATIENCE_MS = ${WRITE_PATIENCE_MS};
${encodeFrame}
${webSocketFrame}
${messageFrame}
${closeFrame}
${writeAllSync}
${MEMORY_MARK_SOURCE}
const sampleMs = resort.memoryLimitMB ? ${MEMORY_SAMPLE_MS} : undefined;
let poked = 0;
let session;
// Blocking waits: the worker has nothing else to do, and a pending Atomics.waitAsync would not hold its loop.
for (;;) {
  if (sampleMs) watchMemory();
  const generation = Atomics.load(s, ${GENERATION});
  const deadline = Atomics.load(s, ${DEADLINE});
  if (deadline === 0) {
    Atomics.store(s, ${WAKE_AT}, 0x7fffffff);
    Atomics.wait(s, ${GENERATION}, generation, sampleMs);
    continue;
  }
  const wakeAt = deadline + graceMs;
  const wait = base + wakeAt - Date.now();
  if (wait > 0) {
    Atomics.store(s, ${WAKE_AT}, wakeAt);
    Atomics.wait(s, ${GENERATION}, generation, sampleMs ? Math.min(wait, sampleMs) : wait);
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
  try { if (answer() && resort.ledgerFd !== undefined) writeSync(resort.ledgerFd, 'E', 0); } catch {}
  try { process.kill(process.pid, 'SIGKILL'); } catch {}
}
/**
 * The process's anonymous resident memory, as a memory cgroup charges it: the Node binary's shared file
 * pages are charged to whoever touched them first (the gateway), not to each environment.
 */
function anonymousKb() {
  try {
    const status = require('node:fs').readFileSync('/proc/self/status', 'latin1');
    const kb = /^RssAnon:\\s+(\\d+) kB/m.exec(status);
    if (kb) return Number(kb[1]);
  } catch {}
  return process.memoryUsage.rss() / 1024;
}
/** Over its memory the process dies as the OOM killer would end it; the supervisor says Runtime.OutOfMemory. */
function watchMemory() {
  const residentMB = Math.ceil(anonymousKb() / 1024);
  if (residentMB <= resort.memoryLimitMB) return;
  try { if (resort.ledgerFd !== undefined) markOverMemory(resort.ledgerFd, residentMB); } catch {}
  try { process.kill(process.pid, 'SIGKILL'); } catch {}
}
/** The armed call's Sandbox.Timedout, as the environment would write it, and the link's close. */
function answer() {
  const length = Atomics.load(s, ${CALL_ID_LENGTH});
  if (length === 0 || resort.linkFd === undefined) return false;
  const requestId = Buffer.from(new Uint8Array(callId, 0, length)).toString('utf8');
  const durationMs = Date.now() - (base + Atomics.load(s, ${CALL_STARTED}));
  const seconds = resort.timeoutSeconds.toFixed(2);
  const maxMemoryUsedMB = Math.ceil(process.resourceUsage().maxRSS / 1024);
  const billedDurationMs = Math.max(1, Math.ceil(durationMs));
  const log = resort.textLog
    ? new Date().toISOString() + ' ' + requestId + ' Task timed out after ' + seconds + ' seconds\\n' +
      'END RequestId: ' + requestId + '\\n' +
      'REPORT RequestId: ' + requestId + '\\tDuration: ' + durationMs.toFixed(2) + ' ms\\tBilled Duration: ' +
      billedDurationMs + ' ms\\tMemory Size: ' + resort.memorySizeMB + ' MB\\tMax Memory Used: ' + maxMemoryUsedMB + ' MB\\t\\n'
    : '';
  writeAllSync(1, Buffer.from(log + '${RESET_LINE}\\n'));
  const errorMessage = 'RequestId: ' + requestId + ' Error: Task timed out after ' + seconds + ' seconds';
  const body = Buffer.from(JSON.stringify({ errorType: 'Sandbox.Timedout', errorMessage }));
  const result = {
    requestId, outcome: 'error', errorType: 'Sandbox.Timedout', contentType: 'application/json',
    durationMs, billedDurationMs, memorySizeMB: resort.memorySizeMB, maxMemoryUsedMB,
    logTail: Buffer.from(log).toString('base64'),
  };
  return writeAllSync(resort.linkFd, Buffer.concat([
    messageFrame({ type: 'result', result }, body),
    closeFrame(1000, 'the environment ended'),
  ]));
}
`;

export class Watchdog {
  private readonly shared = new Int32Array(new SharedArrayBuffer(20));
  private readonly callId = new Uint8Array(new SharedArrayBuffer(CALL_ID_BYTES));
  private readonly base = Date.now();
  private readonly worker: Worker;

  /** `overdue` runs on the main thread, possibly in the middle of a handler's code: it must not return. */
  constructor(overdue: () => void, resort: LastResort) {
    this.shared[WAKE_AT] = 0x7fffffff;
    Object.defineProperty(globalThis, OVERDUE, { value: overdue });
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        shared: this.shared.buffer,
        callId: this.callId.buffer,
        base: this.base,
        graceMs: GRACE_MS,
        killAfterMs: KILL_AFTER_MS,
        resort,
      },
      // Small young generation: it allocates next to nothing (a tighter old-space limit fails its start).
      resourceLimits: { maxYoungGenerationSizeMb: 1 },
      stdout: false,
      stderr: false,
    });
    this.worker.unref();
    // A watchdog that failed must not take the environment with it; deadlines then rest on the loop's timers.
    this.worker.on('error', (err) =>
      process.stderr.write(`serval: the timeout watchdog failed: ${err.message}\n`),
    );
  }

  /**
   * The earliest deadline (epoch ms) of what runs now, or undefined when nothing does; `call` is the call it
   * belongs to (none for an init), which the worker answers for if it must.
   */
  arm(deadlineMs: number | undefined, call?: { requestId: string; startedAtMs: number }): void {
    const s = this.shared;
    const at = deadlineMs === undefined ? 0 : Math.max(1, Math.ceil(deadlineMs - this.base));
    if (Atomics.load(s, DEADLINE) === at) return;
    // The call's facts first: the worker reads them only once it sees the deadline they go with.
    const id = call ? Buffer.from(call.requestId) : undefined;
    const fits = id !== undefined && id.length <= CALL_ID_BYTES;
    if (fits) {
      this.callId.set(id);
      Atomics.store(s, CALL_STARTED, Math.round(call!.startedAtMs - this.base));
    }
    Atomics.store(s, CALL_ID_LENGTH, fits ? id.length : 0);
    Atomics.store(s, DEADLINE, at);
    Atomics.add(s, GENERATION, 1);
    // Only a deadline sooner than the worker's next wake-up needs it awake now.
    if (at !== 0 && at + GRACE_MS < Atomics.load(s, WAKE_AT)) Atomics.notify(s, GENERATION);
  }

  stop(): void {
    void this.worker.terminate();
  }
}
