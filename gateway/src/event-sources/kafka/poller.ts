// The Kafka source of one mapping: a consumer-group member that buffers what it fetches per partition (per
// key slot with parallelizationFactor), hands each slot out one batch at a time in offset order, holds the
// slot back while its batch is retried, and commits a partition's offset only past finished records.
import type { Message } from '@platformatic/kafka';
import { batchingOf } from '../mapping.ts';
import type { Backlog, BatchOutcome, MappingContext, SettleResult, SourcePoller } from '../source-kind.ts';
import { connectKafka, type KafkaConnection } from './connection.ts';
import { kafkaBatchInfo } from './failure-record.ts';
import { type KafkaEventRecord, selfManagedKafkaEvent } from './kafka-event.ts';
import { type KafkaRecord, toKafkaRecord } from './kafka-record.ts';
import { PartitionLedger } from './partition-ledger.ts';
import { decide } from './stream-policy.ts';

/** Room left for the envelope in Lambda's 6 MB synchronous payload. */
const BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024 - 64 * 1024;
/** Fetched records kept in memory at most before the fetcher is paused. */
const BUFFER_HIGH = 50_000;
const COMMIT_DELAY_MS = 100;

interface Slot {
  partition: number;
  records: KafkaRecord[];
  /** A batch of this slot is out: nothing else of it is handed out until all of it is settled. */
  busy: boolean;
  /** Records handed out and not finished yet (the runtime may settle a batch in parts: filtered, invoked). */
  outstanding: number;
  /** The second halves of bisected batches, invoked after the half being retried. */
  later: KafkaRecord[][];
  /** Timestamp of the first record of the batch out, for the iterator age. */
  inFlightSince?: number | undefined;
}

export class KafkaPoller implements SourcePoller<KafkaRecord> {
  private readonly context: MappingContext;
  private readonly topic: string;
  private readonly bootstrap: string[];
  private readonly groupId: string;
  private readonly factor: number;
  private connection: KafkaConnection | undefined;
  private slots = new Map<string, Slot>();
  private ledgers = new Map<number, PartitionLedger>();
  private buffered = 0;
  private lost: Error | undefined;
  private wakers: Array<() => void> = [];
  private commitTimer: NodeJS.Timeout | undefined;
  private cursor = 0;

  constructor(context: MappingContext, groupId: string) {
    const source = context.spec.source.kafka!;
    this.context = context;
    this.topic = source.topic;
    this.bootstrap = source.bootstrapServers;
    this.groupId = groupId;
    this.factor = context.spec.parallelizationFactor ?? 1;
  }

  async connect(): Promise<void> {
    await this.closeConnection();
    this.slots = new Map();
    this.ledgers = new Map();
    this.buffered = 0;
    this.lost = undefined;
    this.connection = await connectKafka({
      spec: this.context.spec,
      groupId: this.groupId,
      onMessage: (m, startOffset, timestampType) => this.push(m, startOffset, timestampType),
      onAssigned: (partitions) => this.reassigned(partitions),
      onLost: (err) => {
        this.lost = err;
        this.wake();
      },
      log: this.context.log,
    });
  }

  async receive(max: number, waitMs: number, signal: AbortSignal): Promise<KafkaRecord[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.lost) throw this.lost;
      const slot = this.freeSlot();
      if (slot) return this.takeBatch(slot, max, signal);
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted) return [];
      await this.waitForChange(left, signal);
    }
  }

  buildEvent(records: readonly KafkaRecord[]): unknown {
    return selfManagedKafkaEvent(this.bootstrap, records);
  }

  async settle(
    records: readonly KafkaRecord[],
    outcome: BatchOutcome<KafkaRecord>,
  ): Promise<SettleResult<KafkaRecord> | undefined> {
    const first = records[0];
    if (!first) return undefined;
    const slot = this.slots.get(first.group);
    const decision = decide(this.context.spec, records, outcome, Date.now());
    const finished = [...decision.done, ...(decision.discarded?.records ?? [])];
    const ledger = this.ledgers.get(first.partition);
    // A partition taken away by a rebalance is not ours to commit: its new owner reads from the last commit.
    if (ledger && slot) {
      for (const r of finished) ledger.finish(r.offset);
      this.scheduleCommit();
    }
    const result: SettleResult<KafkaRecord> = {};
    if (decision.discarded) {
      result.discarded = { ...decision.discarded, outcome };
    }
    if (!slot) return result;
    slot.outstanding -= finished.length;
    if (decision.later.length > 0) slot.later.unshift(decision.later);
    const next = decision.retry.length > 0 ? decision.retry : slot.later.shift();
    if (next && next.length > 0) result.retry = next;
    else if (slot.outstanding <= 0) {
      slot.outstanding = 0;
      slot.busy = false;
      this.wake();
    }
    return result;
  }

  failureBatchInfo(records: readonly KafkaRecord[]): Record<string, unknown> {
    const bytes = Buffer.byteLength(JSON.stringify(this.buildEvent(records)));
    return kafkaBatchInfo(records, this.bootstrap, this.groupId, bytes);
  }

  /** Lag per partition (Lambda's OffsetLag) and the age of the oldest record not yet done (iterator age). */
  async backlog(): Promise<Backlog> {
    const lag = (await this.connection?.lag()) ?? new Map<number, number>();
    const partitions: Record<string, number> = {};
    for (const [p, n] of lag) if (this.ledgers.has(p)) partitions[String(p)] = n;
    let oldest = Number.POSITIVE_INFINITY;
    for (const slot of this.slots.values()) {
      const first = slot.busy ? slot.inFlightSince : slot.records[0]?.timestamp;
      if (first !== undefined && first < oldest) oldest = first;
    }
    return {
      messages: Object.values(partitions).reduce((a, b) => a + b, 0),
      partitions,
      oldestAgeSeconds: Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0,
    };
  }

  async close(): Promise<void> {
    await this.commitNow();
    await this.closeConnection();
    this.wake();
  }

  private push(
    message: Message,
    startOffset: bigint | undefined,
    timestampType: KafkaEventRecord['timestampType'],
  ): void {
    const partition = message.partition;
    // AT_TIMESTAMP on a partition the group never committed: records before the position are skipped.
    if (startOffset !== undefined && message.offset < startOffset) return;
    let ledger = this.ledgers.get(partition);
    if (!ledger) {
      ledger = new PartitionLedger();
      this.ledgers.set(partition, ledger);
    }
    if (!ledger.receive(message.offset, message.leaderEpoch)) return;
    const record = toKafkaRecord(message, this.factor, timestampType);
    let slot = this.slots.get(record.group);
    if (!slot) {
      slot = { partition, records: [], busy: false, outstanding: 0, later: [] };
      this.slots.set(record.group, slot);
    }
    slot.records.push(record);
    this.buffered++;
    if (this.buffered >= BUFFER_HIGH) this.connection?.pause();
    this.wake();
  }

  /** After a rebalance: forget partitions this member lost; their records are read again by the new owner. */
  private reassigned(partitions: readonly number[]): void {
    const kept = new Set(partitions);
    for (const [key, slot] of this.slots) {
      if (kept.has(slot.partition)) continue;
      this.buffered -= slot.records.length;
      this.slots.delete(key);
    }
    for (const partition of [...this.ledgers.keys()])
      if (!kept.has(partition)) this.ledgers.delete(partition);
    this.wake();
  }

  private freeSlot(): Slot | undefined {
    const slots = [...this.slots.values()];
    // Round-robin, so a busy partition does not starve the others.
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[(this.cursor + i) % slots.length]!;
      if (!slot.busy && slot.records.length > 0) {
        this.cursor = (this.cursor + i + 1) % slots.length;
        return slot;
      }
    }
    return undefined;
  }

  /** Takes the slot and fills a batch from it within the batching window (it starts at the first record). */
  private async takeBatch(slot: Slot, max: number, signal: AbortSignal): Promise<KafkaRecord[]> {
    slot.busy = true;
    const { batchSize, windowMs } = batchingOf(this.context.spec, { batchSize: 100, batchingWindowMs: 500 });
    const limit = Math.min(max, batchSize);
    const deadline = Date.now() + windowMs;
    while (slot.records.length < limit && !signal.aborted && !this.lost) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.waitForChange(left, signal);
    }
    const batch: KafkaRecord[] = [];
    let bytes = 0;
    for (const r of slot.records) {
      if (batch.length >= limit || (batch.length > 0 && bytes + r.eventBytes > BATCH_PAYLOAD_BYTES)) break;
      batch.push(r);
      bytes += r.eventBytes + 1;
    }
    slot.records.splice(0, batch.length);
    slot.outstanding += batch.length;
    slot.inFlightSince = batch[0]?.timestamp;
    this.buffered -= batch.length;
    if (this.buffered < BUFFER_HIGH / 2) this.connection?.resume();
    if (batch.length === 0) slot.busy = false;
    return batch;
  }

  private waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wakers.push(done);
    });
  }

  private wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  private scheduleCommit(): void {
    if (this.commitTimer) return;
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      void this.commitNow();
    }, COMMIT_DELAY_MS);
  }

  private async commitNow(): Promise<void> {
    if (this.commitTimer) {
      clearTimeout(this.commitTimer);
      this.commitTimer = undefined;
    }
    const connection = this.connection;
    if (!connection) return;
    const offsets = [];
    for (const [partition, ledger] of this.ledgers) {
      const offset = ledger.watermark();
      if (offset !== undefined) offsets.push({ partition, offset, leaderEpoch: ledger.leaderEpoch, ledger });
    }
    if (offsets.length === 0) return;
    try {
      await connection.commit(offsets);
      for (const o of offsets) o.ledger.committed = o.offset;
    } catch (err) {
      // A commit refused mid-rebalance is retried with the next one; at worst records are read twice.
      this.context.log(`kafka mapping ${this.context.name}: commit failed: ${(err as Error).message}`);
      this.scheduleCommit();
    }
  }

  private async closeConnection(): Promise<void> {
    const c = this.connection;
    this.connection = undefined;
    await c?.close().catch(() => undefined);
  }
}
