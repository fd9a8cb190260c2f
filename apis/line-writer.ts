// Writes log lines to a stream in one write per event-loop turn: a busy function's START/END/REPORT and
// output cost one syscall per turn instead of one per line.

export function batchedLineWriter(write: (chunk: string) => void): (line: string) => void {
  let pending: string[] = [];
  const flush = () => {
    const chunk = pending.join('');
    pending = [];
    write(chunk);
  };
  return (line: string) => {
    if (pending.length === 0) setImmediate(flush);
    pending.push(`${line}\n`);
  };
}
