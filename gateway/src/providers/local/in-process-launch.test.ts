// The deadline watch (ADR-57) against a real ledger file written by the environment's own CallLedger.
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnvironmentSpec } from '../../../../apis/environment-link.ts';
import { INIT_LIMIT_MS } from '../../../../apis/environment-link.ts';
import { earliestDeadline, parseLedger } from '../../../../apis/in-process-ledger.ts';
import { CallLedger, readLedger } from '../../../../runtime-shims/node/in-process/call-ledger.ts';
import { DeadlineWatch, sandboxedSupervisor } from './in-process-launch.ts';

const spec = {
  environmentId: 'e',
  namespace: 'default',
  functionName: 'f',
  version: '$LATEST',
  runtime: 'nodejs24.x',
  memoryMB: 128,
  timeoutSeconds: 1,
  maxConcurrency: 2,
} as unknown as EnvironmentSpec;

let dir: string | undefined;
const watch = new DeadlineWatch();
afterEach(() => {
  watch.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function ledgerFile(): { ledger: CallLedger; fd: number } {
  dir = mkdtempSync(join(tmpdir(), 'serval-ledger-'));
  const fd = openSync(join(dir, 'calls'), 'w+');
  return { ledger: new CallLedger(fd, spec), fd };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('in-process deadline watch', () => {
  it('reads deadlines as the environment holds them: invoke at + timeout, init at + 10 s + timeout', () => {
    const { ledger, fd } = ledgerFile();
    const now = Date.now();
    ledger.enter({ requestId: 'a', at: now, phase: 'init' });
    const b = ledger.enter({ requestId: 'b', at: now - 500, phase: 'invoke' });
    const buffer = Buffer.alloc(4096);
    const state = () => parseLedger(buffer.subarray(0, readSyncAt(fd, buffer)));
    expect(earliestDeadline(state(), 1)).toBe(now + 500);
    ledger.leave(b);
    expect(earliestDeadline(state(), 1)).toBe(now + INIT_LIMIT_MS + 1000);
    ledger.initAhead(now - 1);
    expect(earliestDeadline(state(), 1)).toBe(now - 1 + INIT_LIMIT_MS);
    ledger.ended();
    expect(earliestDeadline(state(), 1)).toBeUndefined();
    closeSync(fd);
  });

  it('tells an environment once a call is past its deadline plus the grace, and never one on time', async () => {
    const { ledger, fd } = ledgerFile();
    let told = 0;
    watch.watch(fd, 2, 1, () => told++);
    const onTime = ledger.enter({ requestId: 'on-time', at: Date.now(), phase: 'invoke' });
    await sleep(600);
    expect(told).toBe(0);
    ledger.leave(onTime);
    ledger.enter({ requestId: 'late', at: Date.now() - 1400, phase: 'invoke' });
    await expect.poll(() => told, { timeout: 2000 }).toBe(1);
    await sleep(600);
    expect(told).toBe(1);
    // The post-mortem reads the same file through its own descriptor.
    expect(readLedger(openSync(`/proc/self/fd/${fd}`, 'r')).calls.map((c) => c.requestId)).toEqual(['late']);
    closeSync(fd);
  });

  it('finds no supervisor where a process has none or several children', () => {
    expect(sandboxedSupervisor(process.pid)).toBeUndefined();
    expect(sandboxedSupervisor(2 ** 22 + 1)).toBeUndefined();
  });
});

function readSyncAt(fd: number, buffer: Buffer): number {
  return process.getBuiltinModule('node:fs').readSync(fd, buffer, 0, buffer.length, 0);
}
