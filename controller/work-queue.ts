// A work queue keyed by namespace/name, as controller-runtime's: a key waits at most once, a key being
// processed is never processed twice at once (a change meanwhile runs it again afterwards), and a failing key
// is retried with exponential backoff.

export class WorkQueue {
  private readonly handler: (key: string) => Promise<void>;
  private readonly log: (line: string) => void;
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly order: string[] = [];
  private running = 0;
  private readonly concurrency: number;
  private stopped = false;

  constructor(handler: (key: string) => Promise<void>, log: (line: string) => void, concurrency = 4) {
    this.handler = handler;
    this.log = log;
    this.concurrency = concurrency;
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.order.push(key);
    this.pump();
  }

  stop(): void {
    this.stopped = true;
  }

  private pump(): void {
    while (this.running < this.concurrency && this.order.length > 0) {
      const key = this.order.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      this.running++;
      void this.handler(key)
        .then(
          () => this.failures.delete(key),
          (err) => {
            const n = (this.failures.get(key) ?? 0) + 1;
            this.failures.set(key, n);
            const delay = Math.min(60_000, 500 * 2 ** Math.min(n - 1, 7));
            this.log(
              `reconcile ${key} failed (${n}): ${err instanceof Error ? err.message : String(err)}; retry in ${delay} ms`,
            );
            setTimeout(() => this.add(key), delay).unref();
          },
        )
        .finally(() => {
          this.active.delete(key);
          this.running--;
          if (this.dirty.delete(key)) this.add(key);
          this.pump();
        });
    }
  }
}
