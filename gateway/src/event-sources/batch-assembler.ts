// Gathers one batch from a source the way Lambda does (reference §10.1): up to batchSize records, within the
// batching window (which starts at the first record), and never past the 6 MB invoke payload. A record that
// would overflow the payload waits for the next batch of the same loop.
import type { SourcePoller, SourceRecord } from './source-kind.ts';

/** Lambda's synchronous invoke payload limit. */
export const MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024;
/** Room for the event's envelope around its records (`{"Records":[…]}`, MQ's queue keys). */
const ENVELOPE_BYTES = 1024;
/** How long an empty receive waits for the first record before the loop looks around again. */
export const IDLE_WAIT_MS = 2_000;

export interface Batching {
  batchSize: number;
  windowMs: number;
  maxPerReceive: number;
  /** The source's receive returns whole batches (SourceKind.assemblesBatches). */
  wholeBatches?: boolean;
  /** How long a received record stays leased (SourcePoller.leaseMs), for a batch received ahead. */
  leaseMs?: number | undefined;
}

export class BatchAssembler<R extends SourceRecord> {
  private readonly poller: SourcePoller<R>;
  private readonly batching: Batching;
  private carried: R[] = [];
  /** The next batch, being received while the caller invokes the current one (prefetch), and when it came. */
  private ahead: Promise<{ records: R[]; at: number }> | undefined;

  constructor(poller: SourcePoller<R>, batching: Batching) {
    this.poller = poller;
    this.batching = batching;
  }

  /** Whether records wait here for a next batch: left over from an earlier one, or received ahead. */
  get holding(): boolean {
    return this.carried.length > 0 || this.ahead !== undefined;
  }

  /**
   * Starts receiving the next batch now, while the caller works on the current one: with a backlog, a
   * loop's batches then follow each other without a receive round trip between them.
   */
  prefetch(signal: AbortSignal): void {
    if (this.ahead) return;
    this.ahead = this.assemble(signal).then((records) => ({ records, at: Date.now() }));
    // Awaited by next() or takeAhead(); a receive aborted meanwhile must not be an unhandled rejection.
    this.ahead.catch(() => undefined);
  }

  /** The next batch; `[]` when nothing arrived within the idle wait. Throws when the source is lost. */
  async next(signal: AbortSignal): Promise<R[]> {
    const ahead = this.ahead;
    this.ahead = undefined;
    if (!ahead) return this.assemble(signal);
    const fresh = this.fresh(await ahead);
    return fresh.length > 0 ? fresh : this.assemble(signal);
  }

  /** The batch received ahead, if any (a stopping loop still invokes it); `[]` when there is none or it failed. */
  async takeAhead(): Promise<R[]> {
    const ahead = this.ahead;
    this.ahead = undefined;
    return ahead ? ahead.then((a) => this.fresh(a)).catch(() => []) : [];
  }

  /**
   * A batch that waited ahead for half of its lease (the current invocation was slow) is dropped, not
   * invoked: its records may already be another loop's, and they come back by themselves.
   */
  private fresh(ahead: { records: R[]; at: number }): R[] {
    const lease = this.batching.leaseMs;
    return lease !== undefined && Date.now() - ahead.at > lease / 2 ? [] : ahead.records;
  }

  private async assemble(signal: AbortSignal): Promise<R[]> {
    const { batchSize, windowMs, maxPerReceive } = this.batching;
    const batch: R[] = [];
    let bytes = ENVELOPE_BYTES;
    let full = false;
    const take = (records: readonly R[]) => {
      for (const [i, record] of records.entries()) {
        // A message whose lease ran out while the window was open comes again: keep only the newest copy
        // (with SQS, only its receipt handle still works).
        const earlier = batch.findIndex((r) => r.id === record.id);
        if (earlier >= 0) {
          batch[earlier] = record;
          continue;
        }
        if (
          full ||
          batch.length >= batchSize ||
          (batch.length > 0 && bytes + record.eventBytes > MAX_BATCH_PAYLOAD_BYTES)
        ) {
          full = true;
          this.carried.push(...records.slice(i));
          return;
        }
        batch.push(record);
        bytes += record.eventBytes + 1;
      }
    };
    const carried = this.carried;
    this.carried = [];
    take(carried);
    let deadline = batch.length > 0 ? Date.now() + windowMs : Number.POSITIVE_INFINITY;
    while (!full && batch.length < batchSize && !signal.aborted) {
      let waitMs: number;
      if (batch.length === 0) waitMs = IDLE_WAIT_MS;
      else if (windowMs === 0) break;
      else {
        waitMs = deadline - Date.now();
        if (waitMs <= 0) break;
      }
      const wasEmpty = batch.length === 0;
      const received = await this.poller.receive(
        Math.min(maxPerReceive, batchSize - batch.length),
        waitMs,
        signal,
      );
      if (received.length === 0 && wasEmpty) return batch;
      if (this.batching.wholeBatches) return [...batch, ...received];
      if (wasEmpty && received.length > 0) deadline = Date.now() + windowMs;
      take(received);
    }
    return batch;
  }
}

/** Per-group ordering across a mapping's loops: a batch runs only when none of its groups is in flight. */
export class GroupLocks {
  private readonly held = new Set<string>();
  private waiters: Array<() => void> = [];

  async acquire(groups: readonly string[], signal: AbortSignal): Promise<boolean> {
    while (groups.some((g) => this.held.has(g))) {
      if (signal.aborted) return false;
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    for (const g of groups) this.held.add(g);
    return true;
  }

  release(groups: readonly string[]): void {
    for (const g of groups) this.held.delete(g);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
