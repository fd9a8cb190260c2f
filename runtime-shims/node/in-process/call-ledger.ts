// What an in-process environment is running, kept where its supervisor and the local provider can read it
// (ADR-54, ADR-57): the calls in flight, whether its last words were said, and whether the memory watch
// ended it. One positional write when a call starts and one when it ends; nothing wakes anyone. The layout
// is apis/in-process-ledger.ts.
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';
import {
  LEDGER_INIT_AHEAD_AT,
  LEDGER_SLOT_BYTES,
  LEDGER_SLOTS_AT,
  LEDGER_SPEC_KEYS,
  type LedgerEntry,
  type LedgerSpec,
  type LedgerState,
  parseLedger,
} from '../../../apis/in-process-ledger.ts';

export type { LedgerEntry, LedgerState } from '../../../apis/in-process-ledger.ts';

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

const SLOTS_AT = LEDGER_SLOTS_AT;
const SLOT_BYTES = LEDGER_SLOT_BYTES;
const FREE = Buffer.from('\n');

export class CallLedger {
  readonly fd: number;
  private readonly free: number[];

  /**
   * Opens the supervisor's file by its path, then unlinks it: the function never sees it. A descriptor the
   * supervisor passed on (/proc/self/fd/N) is reopened close-on-exec and closed, so a handler's child
   * processes do not inherit it.
   */
  static open(path: string, spec: EnvironmentSpec): CallLedger {
    const fd = openSync(path, 'r+');
    const passed = /^\/proc\/self\/fd\/(\d+)$/.exec(path);
    try {
      if (passed) closeSync(Number(passed[1]));
      else unlinkSync(path);
    } catch {
      // already gone: the supervisor still holds it
    }
    return new CallLedger(fd, spec);
  }

  constructor(fd: number, spec: EnvironmentSpec) {
    this.fd = fd;
    const slots = spec.maxConcurrency ?? 1;
    this.free = Array.from({ length: slots }, (_, i) => slots - 1 - i);
    const facts = Object.fromEntries(LEDGER_SPEC_KEYS.map((key) => [key, spec[key]])) as LedgerSpec;
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

  /** The memory watch ends the process, at `residentMB`: the post-mortem says Runtime.OutOfMemory. */
  overMemory(residentMB: number): void {
    writeSync(this.fd, `M${residentMB}`.slice(0, 15), 1);
  }

  /** An init ahead of any call (provisioned) began at `atMs`, or (undefined) it ended. */
  initAhead(atMs: number | undefined): void {
    const mark = Buffer.alloc(SLOTS_AT - LEDGER_INIT_AHEAD_AT);
    if (atMs !== undefined) mark.write(`I${Math.round(atMs)}`);
    writeSync(this.fd, mark, 0, mark.length, LEDGER_INIT_AHEAD_AT);
  }

  private write(slot: number, entry: LedgerEntry): void {
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    // A request id is at most a few dozen bytes; a line that cannot fit is cut to its id.
    const fitted =
      line.length <= SLOT_BYTES ? line : Buffer.from(`${JSON.stringify({ ...entry, traceId: undefined })}\n`);
    writeSync(this.fd, fitted, 0, Math.min(fitted.length, SLOT_BYTES), SLOTS_AT + slot * SLOT_BYTES);
  }
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
  return parseLedger(Buffer.concat(chunks));
}
