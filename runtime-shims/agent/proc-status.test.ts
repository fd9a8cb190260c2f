import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fieldKb, ProcStatus } from './proc-status.ts';

describe('fieldKb', () => {
  it('reads the named field in kB, and 0 when it is missing', () => {
    const status = Buffer.from('Name:\tnode\nVmPeak:\t  999 kB\nVmHWM:\t   123456 kB\nVmRSS:\t    789 kB\n');
    expect(fieldKb(status, 'VmHWM')).toBe(123456);
    expect(fieldKb(status, 'VmRSS')).toBe(789);
    expect(fieldKb(Buffer.from('Name:\tnode\n'), 'VmHWM')).toBe(0);
  });
});

describe.skipIf(process.platform !== 'linux')('ProcStatus', () => {
  it('renders the file afresh on every read through the held descriptor', () => {
    const status = new ProcStatus(process.pid);
    const before = status.kb('VmHWM');
    expect(before).toBeGreaterThan(0);
    // Touch 64 MiB so the peak resident memory must rise past what was read first.
    const big = Buffer.alloc(64 * 1024 * 1024, 1);
    expect(status.kb('VmHWM')).toBeGreaterThanOrEqual(before + 60 * 1024);
    expect(big[big.length - 1]).toBe(1);
    status.close();
  });

  it('reads 0 once the process is gone', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
    await new Promise((r) => child.once('spawn', r));
    const status = new ProcStatus(child.pid!);
    expect(status.kb('VmRSS')).toBeGreaterThan(0);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(status.kb('VmRSS')).toBe(0);
    status.close();
  });
});
