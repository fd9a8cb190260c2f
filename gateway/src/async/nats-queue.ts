// The queue for several gateway replicas: a JetStream work-queue stream with one durable pull consumer that
// all replicas share, so each event goes to one of them. An event stays in the stream until acked; a replica
// that dies mid-invocation stops renewing its ack wait and JetStream hands the event to another (at least
// once). A retry is published as a new message before the old one is acked, so a crash between the two
// duplicates rather than loses. Dead letters are a second stream that operators list, redrive and purge.
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeEvent, encodeEvent } from './event-codec.ts';
import {
  type AsyncEvent,
  type DeadLetter,
  type DeadLetterFilter,
  type EventQueue,
  type Leased,
  matchesFilter,
  type QueueStats,
  QueueUnavailableError,
  redrivenEvent,
} from './event-queue.ts';

const EVENTS = 'SERVAL_ASYNC';
const DEAD = 'SERVAL_ASYNC_DEAD';
const CONSUMER = 'serval-async-workers';
const NS_PER_MS = 1_000_000;
/** How long `take` waits for a message before it reports "none due". */
const IDLE_WAIT_MS = 1000;
/** How many messages one gateway pulls ahead of its workers. */
const PULL_BATCH = 64;
/** How long a caller's Event invocation waits for JetStream to store it before it is told to retry. */
const ENQUEUE_TIMEOUT_MS = 2000;

interface NatsLeased extends Leased {
  msg: JsMsg;
}

interface StoredLetter {
  condition: DeadLetter['condition'];
  failedAt: number;
  reason: string;
  event: string;
}

export class NatsEventQueue implements EventQueue {
  readonly backend = 'nats' as const;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly consumer: Consumer;
  private messages: ConsumerMessages | undefined;
  private iterator: AsyncIterator<JsMsg> | undefined;
  private pending: Promise<IteratorResult<JsMsg>> | undefined;
  /** False between a disconnect and the reconnect: callers are answered at once instead of waiting. */
  private connected = true;

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, consumer: Consumer) {
    this.js = js;
    this.jsm = jsm;
    this.consumer = consumer;
    void this.watch(nc);
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'close') this.connected = false;
      else if (s.type === 'reconnect') this.connected = true;
    }
  }

  /** Creates the streams and the shared consumer if they are not there yet (every replica may do this). */
  static async open(nc: NatsConnection, ackWaitSeconds: number): Promise<NatsEventQueue> {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, {
      name: EVENTS,
      subjects: ['serval.async.events.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await ensureStream(jsm, {
      name: DEAD,
      subjects: ['serval.async.dead.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
    });
    const consumer = {
      durable_name: CONSUMER,
      ack_policy: AckPolicy.Explicit,
      ack_wait: ackWaitSeconds * 1000 * NS_PER_MS,
      max_deliver: -1,
      max_ack_pending: 10_000,
    };
    try {
      await jsm.consumers.add(EVENTS, consumer);
    } catch {
      await jsm.consumers.update(EVENTS, CONSUMER, consumer);
    }
    const js = jetstream(nc);
    return new NatsEventQueue(nc, js, jsm, await js.consumers.get(EVENTS, CONSUMER));
  }

  async enqueue(event: AsyncEvent): Promise<void> {
    if (!this.connected) throw new QueueUnavailableError('NATS is not connected');
    try {
      await this.publish(event, { timeout: ENQUEUE_TIMEOUT_MS });
    } catch (err) {
      // Not stored (timeout, no stream responder, connection lost): the event was not accepted.
      throw new QueueUnavailableError(`JetStream did not store the event: ${String(err)}`);
    }
  }

  async take(now: number): Promise<Leased | undefined> {
    const msg = await this.nextMessage();
    if (!msg) return undefined;
    let event: AsyncEvent;
    try {
      event = decodeEvent(msg.data);
    } catch {
      // Not ours to run and never will be: keep it where an operator can see it rather than loop on it.
      await this.js.publish(`serval.async.dead._.undecodable`, msg.data);
      msg.ack();
      return undefined;
    }
    // The pull may have waited: judge due-ness by the clock now, not when `take` was called.
    const current = Math.max(now, Date.now());
    if (event.notBefore > current) {
      msg.nak(event.notBefore - current);
      return undefined;
    }
    return { event, msg } as NatsLeased;
  }

  touch(leased: Leased): void {
    (leased as NatsLeased).msg.working();
  }

  async ack(leased: Leased): Promise<void> {
    await (leased as NatsLeased).msg.ackAck();
  }

  async retry(leased: Leased, next: AsyncEvent): Promise<void> {
    await this.publish(next);
    await (leased as NatsLeased).msg.ackAck();
  }

  async deadLetter(
    leased: Leased,
    letter: Omit<DeadLetter, 'id' | 'event'>,
    event: AsyncEvent,
  ): Promise<void> {
    const stored: StoredLetter = { ...letter, event: encodeEvent(event).toString('utf8') };
    await this.js.publish(
      `serval.async.dead.${event.namespace}.${event.functionName}`,
      JSON.stringify(stored),
    );
    await (leased as NatsLeased).msg.ackAck();
  }

  async stats(now: number): Promise<QueueStats> {
    const events = (await this.jsm.streams.info(EVENTS)).state;
    const dead = (await this.jsm.streams.info(DEAD)).state;
    let oldestEventAgeSeconds = 0;
    if (events.messages > 0) {
      // The lowest sequence is the event waiting longest; its acceptedAt is the age that matters.
      const first = await this.jsm.streams.getMessage(EVENTS, { seq: events.first_seq }).catch(() => null);
      const acceptedAt = first ? decodeEvent(first.data).acceptedAt : Date.parse(events.first_ts);
      oldestEventAgeSeconds = Math.max(0, (now - acceptedAt) / 1000);
    }
    return {
      backend: this.backend,
      depth: events.messages,
      oldestEventAgeSeconds,
      deadLetters: dead.messages,
    };
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const limit = filter.limit ?? 100;
    const { first_seq, last_seq, messages } = (await this.jsm.streams.info(DEAD)).state;
    const letters: DeadLetter[] = [];
    for (let seq = first_seq; messages > 0 && seq <= last_seq && letters.length < limit; seq++) {
      const stored = await this.jsm.streams.getMessage(DEAD, { seq }).catch(() => null);
      if (!stored) continue;
      const letter = toLetter(seq, stored.data);
      if (letter && matchesFilter(letter, filter)) letters.push(letter);
    }
    return letters;
  }

  async redrive(filter: DeadLetterFilter, now: number): Promise<number> {
    const letters = await this.listDeadLetters({ ...filter, limit: filter.limit ?? Number.MAX_SAFE_INTEGER });
    for (const letter of letters) {
      await this.publish(redrivenEvent(letter.event, now));
      await this.jsm.streams.deleteMessage(DEAD, Number(letter.id));
    }
    return letters.length;
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const letters = await this.listDeadLetters({ ...filter, limit: filter.limit ?? Number.MAX_SAFE_INTEGER });
    for (const letter of letters) await this.jsm.streams.deleteMessage(DEAD, Number(letter.id));
    return letters.length;
  }

  async close(): Promise<void> {
    // Messages pulled but not started go back to the stream when their ack wait runs out.
    await this.messages?.close();
  }

  /**
   * The next pulled message, or null after a short wait. A continuous pull (`consume`) keeps a batch in
   * flight, so a busy gateway does not pay a round trip per event.
   */
  private async nextMessage(): Promise<JsMsg | null> {
    this.messages ??= await this.consumer.consume({ max_messages: PULL_BATCH });
    this.iterator ??= this.messages[Symbol.asyncIterator]();
    this.pending ??= this.iterator.next();
    let timer: NodeJS.Timeout | undefined;
    const idle = new Promise<null>((r) => {
      timer = setTimeout(() => r(null), IDLE_WAIT_MS);
    });
    const result = await Promise.race([this.pending, idle]).finally(() => clearTimeout(timer));
    if (result === null) return null;
    this.pending = undefined;
    if (result.done) {
      this.messages = undefined;
      this.iterator = undefined;
      throw new Error('the JetStream consumer stopped');
    }
    return result.value;
  }

  private async publish(event: AsyncEvent, opts?: { timeout: number }): Promise<void> {
    await this.js.publish(
      `serval.async.events.${event.namespace}.${event.functionName}`,
      encodeEvent(event),
      opts,
    );
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Parameters<JetStreamManager['streams']['add']>[0],
): Promise<void> {
  try {
    await jsm.streams.info(config.name as string);
  } catch {
    await jsm.streams.add(config);
  }
}

function toLetter(seq: number, data: Uint8Array): DeadLetter | undefined {
  try {
    const stored = JSON.parse(Buffer.from(data).toString('utf8')) as StoredLetter;
    return {
      id: String(seq),
      event: decodeEvent(Buffer.from(stored.event)),
      condition: stored.condition,
      failedAt: stored.failedAt,
      reason: stored.reason,
    };
  } catch {
    return undefined;
  }
}
