// Splits an environment's output into lines for the log sink. readline did this at a few µs per line, three
// lines per warm invocation (START, END, REPORT) and more for every line a function prints (#19); it also
// held a line without a newline whole, so one function printing a gigabyte could exhaust the gateway.
import type { Readable } from 'node:stream';

/** CloudWatch's largest log event (256 KiB): a longer line is passed on in pieces of about this size. */
export const MAX_LINE_BYTES = 256 * 1024;
const NEWLINE = 0x0a;

export function onLines(input: Readable, line: (text: string) => void): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const emit = (piece: Buffer) => {
    const whole = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
    pending = [];
    pendingBytes = 0;
    // A trailing \r (CRLF output) is no part of the line, as readline treats it.
    const end = whole.length > 0 && whole[whole.length - 1] === 0x0d ? whole.length - 1 : whole.length;
    line(whole.toString('utf8', 0, end));
  };
  input.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      emit(chunk.subarray(start, nl));
      start = nl + 1;
    }
    // The rest waits for its newline; pieces are copied, since the stream may reuse its buffers.
    for (let at = start; at < chunk.length; ) {
      const take = Math.min(chunk.length - at, MAX_LINE_BYTES - pendingBytes);
      pending.push(Buffer.from(chunk.subarray(at, at + take)));
      pendingBytes += take;
      at += take;
      if (pendingBytes >= MAX_LINE_BYTES) emit(Buffer.alloc(0));
    }
  });
  input.on('end', () => {
    if (pendingBytes > 0) emit(Buffer.alloc(0));
  });
}
