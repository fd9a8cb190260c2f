// The layout of an in-process Node environment's call ledger (ADR-54, ADR-57): what the environment is
// running, in a file its supervisor and the local provider hold open. The environment writes it
// (runtime-shims/node/in-process/call-ledger.ts); the provider reads it on a coarse timer to end a handler
// that overran its deadline where its own event loop could not (a spin, a block outside JavaScript), and
// the post-mortem reads it to answer for the calls the dead process was running.
//
// Bytes: 0 `E` once the process said its last words (nothing left to report); 1 `M` when the memory watch
// ended it, 2-15 the resident MB it saw then; 16 `I` while an init runs ahead of any call (provisioned),
// 17-31 the epoch ms it began; from 64 one slot of 256 bytes per call the environment may run at once (a
// JSON line, or a newline when free); after them, once, the facts of the spec its report needs (JSON).
import { type EnvironmentSpec, INIT_LIMIT_MS } from './environment-link.ts';

export const LEDGER_SLOTS_AT = 64;
export const LEDGER_SLOT_BYTES = 256;
export const LEDGER_INIT_AHEAD_AT = 16;

/** One call in flight. */
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
export const LEDGER_SPEC_KEYS = [
  'environmentId',
  'namespace',
  'functionName',
  'version',
  'runtime',
  'memoryMB',
  'timeoutSeconds',
  'logFormat',
  'initializationType',
] as const satisfies ReadonlyArray<keyof EnvironmentSpec>;
export type LedgerSpec = Pick<EnvironmentSpec, (typeof LEDGER_SPEC_KEYS)[number]>;

export interface LedgerState {
  saidLastWords: boolean;
  /** The memory watch's reading when it ended the process, if it did. */
  overMemoryMB: number | undefined;
  /** Epoch ms an init ahead of any call began, while it runs. */
  initAheadAt: number | undefined;
  spec: LedgerSpec | undefined;
  calls: LedgerEntry[];
}

/** The bytes of a ledger, as far as they were read (the slots alone will do: `spec` is then undefined). */
export function parseLedger(data: Buffer): LedgerState {
  const mark = data.toString('latin1', 1, 16).replace(/\0+$/, '');
  const initAhead = data.toString('latin1', LEDGER_INIT_AHEAD_AT, LEDGER_SLOTS_AT).replace(/\0+$/, '');
  const state: LedgerState = {
    saidLastWords: data[0] === 0x45,
    overMemoryMB: mark.startsWith('M') ? Number(mark.slice(1)) || 0 : undefined,
    initAheadAt: initAhead.startsWith('I') ? Number(initAhead.slice(1)) || undefined : undefined,
    spec: undefined,
    calls: [],
  };
  for (let at = LEDGER_SLOTS_AT; at < data.length; at += LEDGER_SLOT_BYTES) {
    // A free slot is a newline; one never written is zeros.
    if (data[at] !== 0x7b) continue;
    const end = data.indexOf(0x0a, at);
    const line = data.toString('utf8', at, end >= 0 ? end : data.length);
    try {
      const parsed = JSON.parse(line) as LedgerEntry | LedgerSpec;
      if ('requestId' in parsed) state.calls.push(parsed);
      else if ('functionName' in parsed) {
        state.spec = parsed;
        break;
      }
    } catch {
      // a slot torn by a kill, or read while being written: that call is not counted
    }
  }
  return state;
}

/**
 * When a call's deadline passes, as the environment's own timers hold it (environment.ts): its handler's
 * start plus the timeout; for a call still in its init, the init phase plus the timeout it may go on for.
 */
export function callDeadline(entry: LedgerEntry, timeoutSeconds: number): number {
  return entry.at + timeoutSeconds * 1000 + (entry.phase === 'init' ? INIT_LIMIT_MS : 0);
}

/** The earliest deadline of what the ledger says runs, or undefined when nothing does. */
export function earliestDeadline(state: LedgerState, timeoutSeconds: number): number | undefined {
  if (state.saidLastWords) return undefined;
  let earliest = state.initAheadAt === undefined ? undefined : state.initAheadAt + INIT_LIMIT_MS;
  for (const call of state.calls) {
    const deadline = callDeadline(call, timeoutSeconds);
    if (earliest === undefined || deadline < earliest) earliest = deadline;
  }
  return earliest;
}
