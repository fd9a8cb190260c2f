// Delivers invocation records and dead letters. A function destination is an async event on the same durable
// queue; an HTTP endpoint gets a POST; a NATS subject gets a published message. Delivery failures are
// reported to the caller, which keeps the event as a dead letter rather than lose it.
import { randomUUID } from 'node:crypto';
import type { Destination } from '../../../apis/async-config.ts';
import { parseFunctionRef } from '../front-door/function-ref.ts';
import type { Invoker } from '../invocation/invoker.ts';
import { type EventQueue, newEvent } from './event-queue.ts';
import type { NatsLink } from './nats-link.ts';

const HTTP_TIMEOUT_MS = 10_000;
const HTTP_ATTEMPTS = 3;

/** Attributes of a dead letter, as Lambda's DLQ message attributes name them. */
export interface DeadLetterAttributes {
  RequestID: string;
  ErrorCode: string;
  ErrorMessage: string;
}

export class Destinations {
  private readonly queue: EventQueue;
  private readonly invoker: Invoker;
  private readonly nats: NatsLink;

  constructor(queue: EventQueue, invoker: Invoker, nats: NatsLink) {
    this.queue = queue;
    this.invoker = invoker;
    this.nats = nats;
  }

  /**
   * Sends an invocation record; `namespace` is the source function's, for unqualified function names. A
   * function destination's event keeps `traceHeader`, so a loop through destinations is counted too.
   */
  async sendRecord(
    destination: Destination,
    record: unknown,
    namespace: string,
    now: number,
    traceHeader?: string | undefined,
  ): Promise<void> {
    const body = Buffer.from(JSON.stringify(record));
    if (destination.function !== undefined) {
      const ref = parseFunctionRef(destination.function, undefined, namespace);
      // Resolving first turns a missing target into a delivery failure now, not a dead letter later.
      this.invoker.resolve(ref.namespace, ref.name, ref.qualifier);
      const event = {
        requestId: randomUUID(),
        ...ref,
        functionName: ref.name,
        payload: body,
        traceHeader,
      };
      await this.queue.enqueue(newEvent(event, now));
      return;
    }
    await this.send(destination, body, {});
  }

  /** Sends the original event with its error, as a DLQ message (reference §7.3). */
  async sendDeadLetter(
    destination: Destination,
    payload: Buffer,
    attributes: DeadLetterAttributes,
  ): Promise<void> {
    await this.send(destination, payload, {
      ...attributes,
      ErrorMessage: attributes.ErrorMessage.slice(0, 1024),
    });
  }

  private async send(
    destination: Destination,
    body: Buffer,
    attributes: Record<string, string>,
  ): Promise<void> {
    if (destination.http) {
      const headers: Record<string, string> = {
        'Content-Type': 'application/json',
        ...destination.http.headers,
      };
      for (const [k, v] of Object.entries(attributes)) headers[`X-Serval-${k}`] = headerSafe(v);
      await postWithRetries(destination.http.url, body, headers);
    } else if (destination.nats) {
      await this.nats.publish(destination.nats.subject, body, attributes);
    } else {
      throw new Error('a dead letter cannot go to a function');
    }
  }
}

async function postWithRetries(url: string, body: Buffer, headers: Record<string, string>): Promise<void> {
  let lastError: unknown;
  for (let attempt = 0; attempt < HTTP_ATTEMPTS; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
    try {
      const res = await fetch(url, {
        method: 'POST',
        body: new Uint8Array(body),
        headers,
        signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
      });
      await res.arrayBuffer();
      if (res.ok) return;
      lastError = new Error(`HTTP ${res.status} from ${url}`);
      if (res.status < 500 && res.status !== 429) break;
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** Header values cannot carry newlines or non-Latin-1 text. */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, ' ');
}
