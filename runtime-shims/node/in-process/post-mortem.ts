// Run by the supervisor (supervise.sh) when the environment's Node process died of a signal (the memory
// cgroup's OOM killer, a V8 heap abort, its own SIGKILL, or the supervisor's for a call the local provider
// found past its deadline): nobody inside it could answer for the calls it was running, so this does, as
// the agent does for a runtime that died under its invocations (ADR-54): each gets Sandbox.Timedout when it
// was killed past its deadline (ADR-57), Runtime.OutOfMemory when the memory limit killed it, else
// Runtime.ExitError with the signal, its END/REPORT lines, and the link's close behind them. The log tail
// holds only those platform lines: the handler's own lines were in the dead process.
import { constants } from 'node:os';
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';
import { INIT_LIMIT_MS } from '../../../apis/environment-link.ts';
import { callDeadline } from '../../../apis/in-process-ledger.ts';
import {
  type Failure,
  invocationResult,
  platformError,
  timeoutFailure,
} from '../../agent/invocation-result.ts';
import { LogStream } from '../../agent/log-stream.ts';
import { describeExit } from '../../agent/runtime-process.ts';
import type { StreamRelay } from '../../agent/stream-relay.ts';
import { RESET_EXIT_CODE, RESET_LINE, readLedger } from './call-ledger.ts';
import { closeFrame, messageFrame, writeAllSync } from './last-words.ts';

const LINK_FD = 3;
const PEAK_FD = 5;
const EVENTS_FD = 6;
const LEDGER_FD = 7;
/** The link's close code for a provisioned environment whose init failed (upstream-link.ts). */
const CLOSE_INIT_FAILED = 4001;

/** The `oom_kill N` line of cgroup v2's memory.events and of v1's memory.oom_control (as runtime-process.ts). */
function oomKillCount(text: string): number {
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 0);
}

function readFd(fd: number): string {
  const buffer = Buffer.alloc(4096);
  const n = process.getBuiltinModule('node:fs').readSync(fd, buffer, 0, buffer.length, 0);
  return buffer.toString('utf8', 0, n);
}

function main(): void {
  const status = Number(process.argv[2]);
  // The supervisor killed it for a call past its deadline (supervise.sh's ALRM trap).
  const timedOut = process.argv[3] === 'timeout';
  const number = status - 128;
  const signal = Object.entries(constants.signals).find(([, n]) => n === number)?.[0] as
    | NodeJS.Signals
    | undefined;
  writeAllSync(1, Buffer.from(`${RESET_LINE}\n`));
  const state = readLedger(LEDGER_FD);
  if (state.saidLastWords || !state.spec) {
    writeAllSync(LINK_FD, closeFrame(1000, 'the environment ended'));
    return;
  }
  // An init ahead of any call (provisioned) that overran: the gateway reads the reason as StatusReason,
  // as the environment's own words for a slow one (environment.ts, initAhead).
  if (timedOut && state.initAheadAt !== undefined && state.calls.length === 0) {
    const reason = `Sandbox.Timedout: the init phase did not complete within ${INIT_LIMIT_MS / 1000} s`;
    writeAllSync(LINK_FD, closeFrame(CLOSE_INIT_FAILED, reason));
    return;
  }
  const cgroup = Boolean(process.env.SERVAL_MEMORY_CGROUP_FDS);
  let oomKilled = state.overMemoryMB !== undefined;
  let peakMB = state.overMemoryMB ?? 0;
  if (cgroup) {
    try {
      oomKilled ||= oomKillCount(readFd(EVENTS_FD)) > 0;
      peakMB = Math.max(peakMB, Math.ceil(Number(readFd(PEAK_FD).trim()) / (1024 * 1024)) || 0);
    } catch {
      // the cgroup's files are unreadable: the signal alone speaks
    }
  }
  const errorType = oomKilled ? 'Runtime.OutOfMemory' : 'Runtime.ExitError';
  const reason = `Runtime exited with error: ${describeExit({ code: status, signal: signal ?? null })}`;
  const spec = { ...state.spec, environment: {} } as unknown as EnvironmentSpec;
  const lines: string[] = [];
  let quiet = true;
  const log = new LogStream(spec, (line) => {
    if (!quiet) lines.push(line);
  });
  const frames: Buffer[] = [];
  const now = Date.now();
  const relay = { isStarted: false, relayedBytes: 0 } as unknown as StreamRelay;
  for (const call of state.calls) {
    // Its START was written by the dead process; this one only seeds the tail.
    log.start(call.requestId, call.traceId);
    quiet = false;
    const elapsedMs = Math.max(0, now - call.at);
    const late = timedOut && callDeadline(call, spec.timeoutSeconds) <= now;
    // An init past its phase went on inside the invoke phase, as the environment's own timers would have it.
    const initMs = call.phase !== 'init' ? call.initDurationMs : late ? INIT_LIMIT_MS : elapsedMs;
    let durationMs = call.phase === 'init' ? 0 : elapsedMs;
    let failure: Failure;
    if (late) {
      if (call.phase === 'init') {
        log.initReport(INIT_LIMIT_MS, 'timeout');
        durationMs = Math.max(0, elapsedMs - INIT_LIMIT_MS);
      }
      failure = timeoutFailure(log, call.requestId, spec.timeoutSeconds);
    } else {
      failure = platformError(errorType, `RequestId: ${call.requestId} Error: ${reason}`);
      if (call.phase === 'init') log.initReport(elapsedMs, 'error', errorType);
    }
    const { result, body } = invocationResult(spec, log, {
      requestId: call.requestId,
      outcome: failure,
      durationMs,
      initDurationMs: initMs,
      maxMemoryUsedMB: peakMB,
      relay,
    });
    quiet = true;
    frames.push(messageFrame({ type: 'result', result }, body));
  }
  if (lines.length > 0) writeAllSync(1, Buffer.from(`${lines.join('\n')}\n`));
  frames.push(closeFrame(1000, 'the environment ended'));
  writeAllSync(LINK_FD, Buffer.concat(frames));
}

try {
  main();
} catch (err) {
  process.stderr.write(`serval-node-in-process post-mortem: ${String(err)}\n`);
}
process.exit(RESET_EXIT_CODE);
