// The queue behind asynchronous (`Event`) invocations. An event is accepted only once `enqueue` resolves;
// the durable backends (SQLite, NATS JetStream) implement this same interface.

export interface AsyncEvent {
  /** The request id the caller got with its 202; the invocation keeps it. */
  requestId: string;
  namespace: string;
  functionName: string;
  qualifier?: string | undefined;
  payload: Buffer;
  traceHeader?: string | undefined;
  /** Epoch ms when the event was accepted (event age counts from here). */
  acceptedAt: number;
  /** Attempts made so far. */
  attempts: number;
  /** Epoch ms before which it is not handed out. */
  notBefore: number;
}

export interface EventQueue {
  enqueue(event: AsyncEvent): Promise<void>;
  /** The next due event, leased to the caller until `ack` or `retry`; undefined when none is due. */
  take(now: number): Promise<AsyncEvent | undefined>;
  ack(requestId: string): Promise<void>;
  /** Puts a leased event back, due at `notBefore`. */
  retry(event: AsyncEvent, notBefore: number): Promise<void>;
  depth(): Promise<number>;
}

/** Keeps events in memory: nothing survives a restart. The embedded default until the durable backends land. */
export class MemoryEventQueue implements EventQueue {
  private readonly waiting: AsyncEvent[] = [];
  private readonly leased = new Map<string, AsyncEvent>();

  async enqueue(event: AsyncEvent): Promise<void> {
    this.waiting.push(event);
  }

  async take(now: number): Promise<AsyncEvent | undefined> {
    const i = this.waiting.findIndex((e) => e.notBefore <= now);
    if (i < 0) return undefined;
    const [event] = this.waiting.splice(i, 1);
    this.leased.set(event!.requestId, event!);
    return event;
  }

  async ack(requestId: string): Promise<void> {
    this.leased.delete(requestId);
  }

  async retry(event: AsyncEvent, notBefore: number): Promise<void> {
    this.leased.delete(event.requestId);
    this.waiting.push({ ...event, notBefore });
  }

  async depth(): Promise<number> {
    return this.waiting.length + this.leased.size;
  }
}
