// The embedded default queue: SQLite in the data directory, WAL, synchronous=FULL. Writes go to a writer
// thread that group-commits them (one transaction and one fsync per batch, while the next batch collects),
// so a 202 still means "on disk" at thousands of events a second and the event loop never waits for the
// disk. Reads run here on a second connection. Leases live in memory: one gateway owns the file, and on
// restart every event that was running is simply due again (at least once).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type AsyncEvent,
  type DeadLetter,
  type DeadLetterFilter,
  type EventQueue,
  type Leased,
  matchesFilter,
  type QueueStats,
  redrivenEvent,
} from './event-queue.ts';
import { PRAGMAS, SCHEMA, type WriteOp } from './sqlite-write-ops.ts';
import { SqliteWriter } from './sqlite-writer.ts';

/** How many due events one read picks up; they wait in memory, leased, for the next `take`. */
const READ_AHEAD = 64;

interface Row {
  seq: number;
  body: string;
  payload: Uint8Array;
}

interface SqliteLeased extends Leased {
  seq: number;
}

export class SqliteEventQueue implements EventQueue {
  readonly backend = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private readonly writer: SqliteWriter;
  private readonly leased = new Set<number>();
  private readonly ready: SqliteLeased[] = [];
  private readonly sql: Record<'due' | 'nextDue' | 'depth' | 'oldest' | 'buried' | 'letters', StatementSync>;
  /** Workers waiting for an event (waitForWork), woken by every write that can make one due. */
  private readonly waiting = new Set<() => void>();

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true });
    const file = join(dataDir, 'async-events.db');
    this.db = new DatabaseSync(file);
    this.db.exec(PRAGMAS);
    this.db.exec(SCHEMA);
    this.sql = {
      due: this.db.prepare(
        'SELECT seq, body, payload FROM events WHERE not_before <= ? ORDER BY not_before, seq LIMIT ?',
      ),
      nextDue: this.db.prepare('SELECT MIN(not_before) AS t FROM events WHERE not_before > ?'),
      depth: this.db.prepare('SELECT COUNT(*) AS n FROM events'),
      oldest: this.db.prepare('SELECT MIN(accepted_at) AS t FROM events'),
      buried: this.db.prepare('SELECT COUNT(*) AS n FROM dead_letters'),
      letters: this.db.prepare('SELECT * FROM dead_letters ORDER BY seq'),
    };
    this.writer = new SqliteWriter(file);
  }

  async enqueue(event: AsyncEvent): Promise<void> {
    await this.writer.run([{ op: 'insert', row: eventRow(event) }]);
    this.wake();
  }

  async enqueueOnce(event: AsyncEvent, key: string): Promise<boolean> {
    const added = await this.writer.run([{ op: 'insertOnce', key, row: eventRow(event) }]);
    this.wake();
    return added;
  }

  async take(now: number): Promise<Leased | undefined> {
    if (this.ready.length === 0) this.readAhead(now);
    return this.ready.shift();
  }

  // Polling every 50 ms cost a query 20 times a second with the queue empty (#19); the worker now sleeps
  // until an event is written here or the earliest delayed one comes due.
  waitForWork(now: number, maxMs: number, signal: AbortSignal): Promise<void> {
    const next = (this.sql.nextDue.get(now) as { t: number | null }).t;
    const ms = next === null ? maxMs : Math.min(maxMs, Math.max(1, next - now));
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiting.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiting.add(done);
      signal.addEventListener('abort', done, { once: true });
      if (signal.aborted) done();
    });
  }

  touch(): void {}

  ack(leased: Leased): Promise<void> {
    return this.release(leased, []);
  }

  retry(leased: Leased, next: AsyncEvent): Promise<void> {
    const { seq } = leased as SqliteLeased;
    const reschedule: WriteOp = {
      op: 'reschedule',
      seq,
      notBefore: next.notBefore,
      body: JSON.stringify(meta(next)),
    };
    return this.writer
      .run([reschedule])
      .then(() => undefined)
      .finally(() => {
        this.leased.delete(seq);
        this.wake();
      });
  }

  deadLetter(leased: Leased, letter: Omit<DeadLetter, 'id' | 'event'>, event: AsyncEvent): Promise<void> {
    return this.release(leased, [{ op: 'bury', letter: letterRow(event, letter) }]);
  }

  async stats(now: number): Promise<QueueStats> {
    const oldest = this.sql.oldest.get() as { t: number | null };
    return {
      backend: this.backend,
      depth: Number((this.sql.depth.get() as { n: number }).n),
      oldestEventAgeSeconds: oldest.t === null ? 0 : Math.max(0, (now - oldest.t) / 1000),
      deadLetters: Number((this.sql.buried.get() as { n: number }).n),
    };
  }

  async listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]> {
    const limit = filter.limit ?? 100;
    const letters: DeadLetter[] = [];
    for (const row of this.sql.letters.iterate()) {
      const letter = toLetter(row as unknown as StoredLetterRow);
      if (matchesFilter(letter, filter)) letters.push(letter);
      if (letters.length >= limit) break;
    }
    return letters;
  }

  async redrive(filter: DeadLetterFilter, now: number): Promise<number> {
    const letters = await this.listDeadLetters({ ...filter, limit: filter.limit ?? Number.MAX_SAFE_INTEGER });
    await Promise.all(
      letters.map((letter) => {
        const event = redrivenEvent(letter.event, now);
        return this.writer.run([
          { op: 'insert', row: eventRow(event) },
          { op: 'unbury', seq: Number(letter.id) },
        ]);
      }),
    );
    this.wake();
    return letters.length;
  }

  async purge(filter: DeadLetterFilter): Promise<number> {
    const letters = await this.listDeadLetters({ ...filter, limit: filter.limit ?? Number.MAX_SAFE_INTEGER });
    await Promise.all(letters.map((l) => this.writer.run([{ op: 'unbury', seq: Number(l.id) }])));
    return letters.length;
  }

  async close(): Promise<void> {
    await this.writer.close();
    this.db.close();
  }

  private wake(): void {
    for (const waiter of [...this.waiting]) waiter();
  }

  /** Removes a leased event, together with whatever else must commit with its removal. */
  private release(leased: Leased, withOps: WriteOp[]): Promise<void> {
    const { seq } = leased as SqliteLeased;
    return this.writer
      .run([...withOps, { op: 'remove', seq }])
      .then(() => undefined)
      .finally(() => this.leased.delete(seq));
  }

  private readAhead(now: number): void {
    const rows = this.sql.due.all(now, READ_AHEAD + this.leased.size) as unknown as Row[];
    for (const row of rows) {
      if (this.leased.has(row.seq)) continue;
      this.leased.add(row.seq);
      this.ready.push({
        seq: row.seq,
        event: { ...JSON.parse(row.body), payload: Buffer.from(row.payload) },
      });
      if (this.ready.length >= READ_AHEAD) break;
    }
  }
}

interface StoredLetterRow {
  seq: number;
  condition: DeadLetter['condition'];
  failed_at: number;
  reason: string;
  body: string;
  payload: Uint8Array;
}

function toLetter(row: StoredLetterRow): DeadLetter {
  return {
    id: String(row.seq),
    event: { ...JSON.parse(row.body), payload: Buffer.from(row.payload) },
    condition: row.condition,
    failedAt: row.failed_at,
    reason: row.reason,
  };
}

function eventRow(event: AsyncEvent) {
  return {
    requestId: event.requestId,
    notBefore: event.notBefore,
    acceptedAt: event.acceptedAt,
    body: JSON.stringify(meta(event)),
    payload: exactCopy(event.payload),
  };
}

function letterRow(event: AsyncEvent, letter: Omit<DeadLetter, 'id' | 'event'>) {
  return {
    namespace: event.namespace,
    functionName: event.functionName,
    condition: letter.condition,
    failedAt: letter.failedAt,
    reason: letter.reason,
    body: JSON.stringify(meta(event)),
    payload: exactCopy(event.payload),
  };
}

/**
 * The payload's own bytes. A Buffer is often a view into a larger pooled or socket buffer, and posting it to
 * the writer thread would clone that whole backing store.
 */
function exactCopy(payload: Buffer): Uint8Array {
  return new Uint8Array(payload);
}

/** Everything but the payload, which has its own BLOB column. */
function meta(event: AsyncEvent): Omit<AsyncEvent, 'payload'> {
  const { payload: _payload, ...rest } = event;
  return rest;
}
