// The environment's log sink: lines batched into one write per turn of the event loop (as the agent's
// batchedLineWriter), which can also be flushed synchronously when the process is about to end.
import { writeAllSync } from './last-words.ts';

export class LogSink {
  private readonly fd: number;
  private pending: string[] = [];

  constructor(fd: number) {
    this.fd = fd;
  }

  readonly line = (line: string): void => {
    if (this.pending.length === 0) setImmediate(this.flush);
    this.pending.push(`${line}\n`);
  };

  readonly flush = (): void => {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    writeAllSync(this.fd, Buffer.from(chunk));
  };
}
