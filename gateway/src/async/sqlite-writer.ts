// Group commit for the SQLite queue. Writes from concurrent callers collect while the writer thread commits
// the previous batch; when it is done, everything collected goes as the next batch. One fsync serves a whole
// batch, and each caller's promise settles only after the COMMIT that made its write durable.
import { Worker } from 'node:worker_threads';
import type { BatchResult, Write } from './sqlite-write-ops.ts';

interface Pending {
  write: Write;
  /** True when every op changed something (false: an `insertOnce` of a known key). */
  resolve: (changed: boolean) => void;
  reject: (err: Error) => void;
}

export class SqliteWriter {
  private readonly worker: Worker;
  private collecting: Pending[] = [];
  private inFlight: Pending[] | undefined;
  private nextId = 0;
  private idle: (() => void)[] = [];
  private failure: Error | undefined;

  constructor(file: string) {
    this.worker = new Worker(new URL('./sqlite-writer-thread.ts', import.meta.url), { workerData: { file } });
    this.worker.on('message', (result: BatchResult) => this.settle(result));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`the SQLite writer thread exited with ${code}`));
    });
    // Only pending writes keep the process alive; an idle writer does not.
    this.worker.unref();
  }

  run(write: Write): Promise<boolean> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.collecting.push({ write, resolve, reject });
      if (!this.inFlight) queueMicrotask(() => this.send());
    });
  }

  /** Resolves once everything submitted so far is committed. */
  drain(): Promise<void> {
    if (!this.inFlight && this.collecting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    const exited = new Promise((r) => this.worker.once('exit', r));
    // Held until the thread is gone: an unref'd worker would let a process with nothing else to do exit
    // mid-close (a script or benchmark that closes the queue last).
    this.worker.ref();
    this.worker.postMessage('close');
    await exited;
  }

  private send(): void {
    if (this.inFlight || this.collecting.length === 0) return;
    this.inFlight = this.collecting;
    this.collecting = [];
    this.worker.ref();
    this.worker.postMessage({ id: ++this.nextId, writes: this.inFlight.map((p) => p.write) });
  }

  private settle(result: BatchResult): void {
    const batch = this.inFlight ?? [];
    this.inFlight = undefined;
    batch.forEach((p, i) => {
      if (result.error) p.reject(new Error(`SQLite commit failed: ${result.error}`));
      else if (result.failures?.[i]) p.reject(new Error(`SQLite write failed: ${result.failures[i]}`));
      else p.resolve(!result.skipped?.includes(i));
    });
    this.send();
    if (!this.inFlight && this.collecting.length === 0) {
      this.worker.unref();
      for (const done of this.idle.splice(0)) done();
    }
  }

  private fail(err: Error): void {
    this.failure = err;
    for (const p of [...(this.inFlight ?? []), ...this.collecting]) p.reject(err);
    this.inFlight = undefined;
    this.collecting = [];
    for (const done of this.idle.splice(0)) done();
  }
}
