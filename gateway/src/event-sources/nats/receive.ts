// A continuous pull (`consume`) that keeps a small buffer ahead of the poll loops, so a receive returns as
// soon as a message is there instead of waiting out a fetch.
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { MessageBuffer } from '../message-buffer.ts';
import { consumerOf, type NatsSource } from './connection.ts';

export class NatsReceiver {
  private readonly buffer = new MessageBuffer<JsMsg>();
  private messages: ConsumerMessages | undefined;

  /** Starts pulling; `prefetch` bounds how many messages wait here unprocessed. */
  async start(source: NatsSource, prefetch: number): Promise<void> {
    const consumer = await consumerOf(source);
    this.messages = await consumer.consume({ max_messages: prefetch });
    void this.pump(this.messages);
    void source.nc.closed().then((err) => this.buffer.fail(err ?? new Error('NATS connection closed')));
  }

  receive(max: number, waitMs: number, signal: AbortSignal): Promise<JsMsg[]> {
    return this.buffer.receive(max, waitMs, signal);
  }

  async stop(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    this.buffer.fail(new Error('stopped'));
  }

  private async pump(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const msg of messages) this.buffer.push(msg);
    } catch (err) {
      this.buffer.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
