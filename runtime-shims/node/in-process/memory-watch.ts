// Where no memory cgroup holds an in-process environment (ADR-57), its resident memory is read on a timer of
// the main thread, as the agent samples its runtime's: over the limit the process dies as the OOM killer
// would end it, and the post-mortem says Runtime.OutOfMemory. A handler that allocates without yielding
// keeps the timer from running: V8's heap limit (90 % of the function's memory) bounds what it holds in
// JavaScript, and the provider's deadline (the timeout plus a grace) bounds how long it can grow outside it.
import { readFileSync } from 'node:fs';
import type { CallLedger } from './call-ledger.ts';

/** As often as the agent samples its runtime's memory. */
const SAMPLE_MS = 100;

/**
 * The process's anonymous resident memory, as a memory cgroup charges it: the Node binary's shared file
 * pages are charged to whoever touched them first (the gateway), not to each environment.
 */
function anonymousKb(): number {
  try {
    const kb = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'latin1'));
    if (kb) return Number(kb[1]);
  } catch {
    // no /proc: the whole resident set
  }
  return process.memoryUsage.rss() / 1024;
}

/** Samples until the process ends; the timer does not keep it alive. */
export function watchMemory(limitMB: number, ledger: CallLedger | undefined): void {
  setInterval(() => {
    const residentMB = Math.ceil(anonymousKb() / 1024);
    if (residentMB <= limitMB) return;
    try {
      ledger?.overMemory(residentMB);
    } catch {
      // the ledger is gone: the post-mortem says Runtime.ExitError
    }
    process.kill(process.pid, 'SIGKILL');
  }, SAMPLE_MS).unref();
}
