// Splits an environment's output into lines for the log sink. readline did this at a few µs per line, three
// lines per warm invocation (START, END, REPORT) and more for every line a function prints (#19); it also
// held a line without a newline whole, so one function printing a gigabyte could exhaust the gateway.
import type { Readable } from 'node:stream';

/** CloudWatch's largest log event (256 KiB): a longer line is passed on in pieces of about this size. */
export const MAX_LINE_BYTES = 256 * 1024;
const LF = 0x0a;
const CR = 0x0d;

/** Calls `line` for each line of `input`, ended by \n, \r\n or a lone \r, as readline splits them. */
export function onLines(input: Readable, line: (text: string) => void): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** The last chunk ended in \r: a \n opening the next one belongs to it. */
  let crEnded = false;
  const emit = (piece: Buffer) => {
    const whole = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
    pending = [];
    pendingBytes = 0;
    line(whole.toString('utf8'));
  };
  input.on('data', (chunk: Buffer) => {
    let start = crEnded && chunk[0] === LF ? 1 : 0;
    crEnded = false;
    let cr = chunk.indexOf(CR, start);
    let lf = chunk.indexOf(LF, start);
    while (cr !== -1 || lf !== -1) {
      const at = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      emit(chunk.subarray(start, at));
      start = at + 1;
      if (chunk[at] === CR) {
        if (start === chunk.length) crEnded = true;
        else if (chunk[start] === LF) start++;
      }
      if (cr !== -1 && cr < start) cr = chunk.indexOf(CR, start);
      if (lf !== -1 && lf < start) lf = chunk.indexOf(LF, start);
    }
    // The rest waits for its line's end; pieces are copied, since the stream may reuse its buffers.
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
