// A continuous pull (`consume`) that keeps a small buffer ahead of the poll loops, so a receive returns as
// soon as a message is there instead of waiting out a fetch. Several loops share one buffer.
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { consumerOf, type NatsSource } from './connection.ts';

export class NatsReceiver {
  private readonly buffer: JsMsg[] = [];
  private waiters: Array<() => void> = [];
  private messages: ConsumerMessages | undefined;
  private failure: Error | undefined;

  /** Starts pulling; `prefetch` bounds how many messages wait here unprocessed. */
  async start(source: NatsSource, prefetch: number): Promise<void> {
    const consumer = await consumerOf(source);
    this.messages = await consumer.consume({ max_messages: prefetch });
    void this.pump(this.messages);
    void source.nc.closed().then((err) => this.fail(err ?? new Error('NATS connection closed')));
  }

  async receive(max: number, waitMs: number, signal: AbortSignal): Promise<JsMsg[]> {
    if (this.buffer.length === 0 && !this.failure) await this.waitForMessage(waitMs, signal);
    if (this.failure) throw this.failure;
    return this.buffer.splice(0, max);
  }

  async stop(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    this.fail(new Error('stopped'));
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const msg of messages) {
        this.buffer.push(msg);
        this.wake();
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private waitForMessage(waitMs: number, signal: AbortSignal): Promise<void> {
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

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
