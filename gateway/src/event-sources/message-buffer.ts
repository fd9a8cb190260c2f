// Messages a broker pushes (a NATS consume, an AMQP consumer) held until a poll loop asks: a receive returns
// as soon as one is there, with whatever else has arrived, up to its max. Shared by the loops of a mapping.
export class MessageBuffer<T> {
  private readonly items: T[] = [];
  private waiters: Array<() => void> = [];
  private failure: Error | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake();
  }

  /** The connection is gone: waiting and later receives throw this. */
  fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  async receive(max: number, waitMs: number, signal: AbortSignal): Promise<T[]> {
    if (this.items.length === 0 && !this.failure) await this.waitForItem(waitMs, signal);
    if (this.failure) throw this.failure;
    return this.items.splice(0, max);
  }

  private waitForItem(waitMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, waitMs);
      signal.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
