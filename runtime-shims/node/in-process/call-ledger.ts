// What an in-process environment is running, kept where its supervisor can read it after the process is
// gone (ADR-54): the calls in flight, whether its last words were said, and whether the memory watch ended
// it. One positional write when a call starts and one when it ends; nothing wakes anyone.
//
// Layout of the file: byte 0 `E` once the process said its last words (nothing left to report), byte 1 `M`
// when the memory watch killed it, bytes 2-15 the resident MB it saw then; from byte 64 one slot of 256
// bytes per call the environment may run at once (a JSON line, or a newline when free); after them, once,
// the facts of the spec its report needs (a JSON line).
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';

/**
 * How an environment that ended itself (a reset: timeout, crash, exit, death by signal) exits, as against a
 * stop (0): the local provider keeps its /tmp for the replacement (kept-tmp.ts, the same number).
 */
export const RESET_EXIT_CODE = 75;
/**
 * The stdout line an environment writes before its last words when it resets itself, so the provider knows
 * before the caller has its answer that a replacement should wait for this /tmp (kept-tmp.ts, the same text).
 */
export const RESET_LINE = 'serval-environment: reset';

const SLOTS_AT = 64;
const SLOT_BYTES = 256;
const FREE = Buffer.from('\n');

/** One call in flight, as the post-mortem sees it. */
export interface LedgerEntry {
  requestId: string;
  traceId?: string | undefined;
  /** Epoch ms its current phase started at. */
  at: number;
  /** Its init ran first and is still running (`init`), or its handler runs (`invoke`). */
  phase: 'init' | 'invoke';
  initDurationMs?: number | undefined;
}

/** The spec's facts a REPORT needs, without the function's variables (no secrets in the file). */
export type LedgerSpec = Pick<
  EnvironmentSpec,
  | 'environmentId'
  | 'namespace'
  | 'functionName'
  | 'version'
  | 'runtime'
  | 'memoryMB'
  | 'timeoutSeconds'
  | 'logFormat'
  | 'initializationType'
>;

export class CallLedger {
  readonly fd: number;
  private readonly free: number[];

  /** Opens the supervisor's file by its path, then unlinks it: the function never sees it. */
  static open(path: string, spec: EnvironmentSpec): CallLedger {
    const fd = openSync(path, 'r+');
    try {
      unlinkSync(path);
    } catch {
      // already gone: the supervisor still holds it
    }
    return new CallLedger(fd, spec);
  }

  constructor(fd: number, spec: EnvironmentSpec) {
    this.fd = fd;
    const slots = spec.maxConcurrency ?? 1;
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    const facts: LedgerSpec = {
      environmentId: spec.environmentId,
      namespace: spec.namespace,
      functionName: spec.functionName,
      version: spec.version,
      runtime: spec.runtime,
      memoryMB: spec.memoryMB,
      timeoutSeconds: spec.timeoutSeconds,
      logFormat: spec.logFormat,
      initializationType: spec.initializationType,
    };
    writeSync(this.fd, `${JSON.stringify(facts)}\n`, SLOTS_AT + slots * SLOT_BYTES);
  }

  /** Notes a call; returns its slot, or -1 when there is none (more calls than slots: not noted). */
  enter(entry: LedgerEntry): number {
    const slot = this.free.pop() ?? -1;
    if (slot >= 0) this.write(slot, entry);
    return slot;
  }

  update(slot: number, entry: LedgerEntry): void {
    if (slot >= 0) this.write(slot, entry);
  }

  leave(slot: number): void {
    if (slot < 0) return;
    writeSync(this.fd, FREE, 0, 1, SLOTS_AT + slot * SLOT_BYTES);
    this.free.push(slot);
  }

  /** The process said its last words: the post-mortem has nothing to add. */
  ended(): void {
    writeSync(this.fd, 'E', 0);
  }

  private write(slot: number, entry: LedgerEntry): void {
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    // A request id is at most a few dozen bytes; a line that cannot fit is cut to its id.
    const fitted =
      line.length <= SLOT_BYTES ? line : Buffer.from(`${JSON.stringify({ ...entry, traceId: undefined })}\n`);
    writeSync(this.fd, fitted, 0, Math.min(fitted.length, SLOT_BYTES), SLOTS_AT + slot * SLOT_BYTES);
  }
}

/** Marks, from the watchdog's thread, that the memory watch is ending the process (at `residentMB`). */
export const MEMORY_MARK_SOURCE = `function markOverMemory(fd, residentMB) {
  require('node:fs').writeSync(fd, ('M' + residentMB).slice(0, 15), 1);
}`;

export interface LedgerState {
  saidLastWords: boolean;
  /** The memory watch's reading when it ended the process, if it did. */
  overMemoryMB: number | undefined;
  spec: LedgerSpec | undefined;
  calls: LedgerEntry[];
}

/** The post-mortem's read of the whole file. */
export function readLedger(fd: number): LedgerState {
  const chunks: Buffer[] = [];
  for (let at = 0; ; ) {
    const chunk = Buffer.alloc(64 * 1024);
    const n = readSync(fd, chunk, 0, chunk.length, at);
    if (n === 0) break;
    chunks.push(chunk.subarray(0, n));
    at += n;
  }
  closeSync(fd);
  const data = Buffer.concat(chunks);
  const mark = data.toString('latin1', 1, 16).replace(/\0+$/, '');
  const state: LedgerState = {
    saidLastWords: data[0] === 0x45,
    overMemoryMB: mark.startsWith('M') ? Number(mark.slice(1)) || 0 : undefined,
    spec: undefined,
    calls: [],
  };
  for (let at = SLOTS_AT; at < data.length; at += SLOT_BYTES) {
    const line = data.toString(
      'utf8',
      at,
      data.indexOf(0x0a, at) >= 0 ? data.indexOf(0x0a, at) : data.length,
    );
    if (!line.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(line) as LedgerEntry | LedgerSpec;
      if ('requestId' in parsed) state.calls.push(parsed);
      else if ('functionName' in parsed) {
        state.spec = parsed;
        break;
      }
    } catch {
      // a slot torn by the kill: that call is not reported
    }
  }
  return state;
}
