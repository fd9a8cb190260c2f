// How an event is written down outside the process (a JetStream message, a dead letter's row).
import type { AsyncEvent } from './event-queue.ts';

interface EncodedEvent extends Omit<AsyncEvent, 'payload'> {
  payload: string;
}

export function encodeEvent(event: AsyncEvent): Buffer {
  const encoded: EncodedEvent = { ...event, payload: event.payload.toString('base64') };
  return Buffer.from(JSON.stringify(encoded));
}

export function decodeEvent(data: Uint8Array): AsyncEvent {
  const encoded = JSON.parse(Buffer.from(data).toString('utf8')) as EncodedEvent;
  return { ...encoded, payload: Buffer.from(encoded.payload, 'base64') };
}
