// Lambda's Amazon MQ for RabbitMQ event (`aws:rmq`, reference §10.6): messages by `queue::vhost`, each with
// its basicProperties (absent ones null, string headers as {bytes}), redelivered, and the body in base64.
import type { ConsumeMessage } from 'amqplib';
import { binaryPayloadView } from '../../../../apis/event-filter.ts';
import type { SourceRecord } from '../source-kind.ts';

export interface RmqMessage {
  basicProperties: Record<string, unknown>;
  redelivered: boolean;
  data: string;
}

export interface RabbitRecord extends SourceRecord {
  readonly msg: ConsumeMessage;
  readonly message: RmqMessage;
}

let sequence = 0;

export function rabbitRecord(msg: ConsumeMessage): RabbitRecord {
  const p = msg.properties;
  const message: RmqMessage = {
    basicProperties: {
      contentType: p.contentType ?? null,
      contentEncoding: p.contentEncoding ?? null,
      headers: headers(p.headers),
      deliveryMode: p.deliveryMode ?? null,
      priority: p.priority ?? null,
      correlationId: p.correlationId ?? null,
      replyTo: p.replyTo ?? null,
      expiration: p.expiration ?? null,
      messageId: p.messageId ?? null,
      timestamp: typeof p.timestamp === 'number' ? formatTimestamp(p.timestamp) : null,
      type: p.type ?? null,
      userId: p.userId ?? null,
      appId: p.appId ?? null,
      clusterId: p.clusterId ?? null,
      bodySize: msg.content.length,
    },
    redelivered: msg.fields.redelivered,
    data: msg.content.toString('base64'),
  };
  const { data: _data, ...metadata } = message;
  return {
    // MQ has no partial batch response; the id only has to be unique within the batch.
    id: p.messageId ?? `delivery-${msg.fields.deliveryTag}-${++sequence}`,
    msg,
    message,
    filterView: { ...metadata, data: binaryPayloadView(msg.content) },
    eventBytes: Buffer.byteLength(JSON.stringify(message)),
    sentAt: typeof p.timestamp === 'number' ? p.timestamp * 1000 : undefined,
    deliveryCount: deliveryCount(msg),
  };
}

/** Quorum queues count deliveries in x-delivery-count; classic ones only say whether it was redelivered. */
function deliveryCount(msg: ConsumeMessage): number {
  const counted = Number(msg.properties.headers?.['x-delivery-count']);
  if (Number.isInteger(counted)) return counted + 1;
  return msg.fields.redelivered ? 2 : 1;
}

function headers(h: Record<string, unknown> | undefined): Record<string, unknown> | null {
  if (!h) return null;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(h)) {
    out[k] =
      typeof v === 'string' ? { bytes: [...Buffer.from(v)] } : Buffer.isBuffer(v) ? { bytes: [...v] } : v;
  }
  return out;
}

/** Java's medium date format, as Lambda shows it: `Jan 1, 1970, 12:33:41 AM` (UTC). */
function formatTimestamp(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString('en-US', {
    timeZone: 'UTC',
    month: 'short',
    day: 'numeric',
    year: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
  });
}
