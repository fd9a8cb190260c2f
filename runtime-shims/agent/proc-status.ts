// A process's /proc/<pid>/status read through a descriptor held open, into one buffer, with the fields
// found without a regular expression: Max Memory Used is read at the end of every invocation, and
// opening, stat-ing, reading and closing the file and compiling a RegExp each time was a visible part of
// the agent's work per call. A read at offset 0 makes the kernel render the file afresh.
import { closeSync, openSync, readSync } from 'node:fs';

const buffer = Buffer.allocUnsafe(8192);

export type StatusField = 'VmHWM' | 'VmRSS';

export class ProcStatus {
  private fd: number | undefined;

  constructor(pid: number) {
    try {
      this.fd = openSync(`/proc/${pid}/status`, 'r');
    } catch {
      this.fd = undefined; // not Linux, or the process is already gone
    }
  }

  /** The field in kB; 0 once the process is gone or where there is no /proc. */
  kb(field: StatusField): number {
    if (this.fd === undefined) return 0;
    let length: number;
    try {
      length = readSync(this.fd, buffer, 0, buffer.length, 0);
    } catch {
      return 0;
    }
    return fieldKb(buffer.subarray(0, length), field);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** The number after `<field>:` in a status file's bytes ("VmHWM:\t  123456 kB"), 0 when absent. */
export function fieldKb(status: Buffer, field: StatusField): number {
  let i = status.indexOf(`\n${field}:`);
  if (i < 0) return 0;
  i += field.length + 2;
  let kb = 0;
  for (; i < status.length; i++) {
    const c = status[i]!;
    if (c >= 0x30 && c <= 0x39) kb = kb * 10 + (c - 0x30);
    else if (kb > 0 || c === 0x0a) break;
  }
  return kb;
}
