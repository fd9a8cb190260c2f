// The AMQP 0-9-1 connection of one RabbitMQ mapping: one channel whose prefetch is the batch size, one
// consumer on the mapping's queue, and the pushed messages buffered for the poll loops.
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { MessageBuffer } from '../message-buffer.ts';

export interface RabbitSource {
  connection: ChannelModel;
  channel: Channel;
  queue: string;
  /** The virtual host, as Lambda's `queue::vhost` key writes it. */
  vhost: string;
  host: string;
  buffer: MessageBuffer<ConsumeMessage>;
}

export function vhostOf(url: string): string {
  const path = new URL(url).pathname;
  return path === '' || path === '/' ? '/' : decodeURIComponent(path.slice(1));
}

export async function openRabbit(url: string, queue: string, prefetch: number): Promise<RabbitSource> {
  const connection = await amqp.connect(url);
  const buffer = new MessageBuffer<ConsumeMessage>();
  connection.on('error', () => undefined); // 'close' follows, and says it
  connection.on('close', () => buffer.fail(new Error('RabbitMQ connection closed')));
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => buffer.fail(new Error('RabbitMQ channel closed')));
    // The queue must exist (checkQueue fails otherwise): a mapping reads a queue, it does not declare one.
    await channel.checkQueue(queue);
    await channel.prefetch(prefetch);
    await channel.consume(queue, (msg) => {
      if (msg) buffer.push(msg);
      else buffer.fail(new Error(`queue ${queue} was deleted`));
    });
    return { connection, channel, queue, vhost: vhostOf(url), host: new URL(url).hostname, buffer };
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
}
