// How a batch is made: batch size, the window from the first record, the 6 MB payload cap (the record that
// does not fit waits for the next batch), and a record received twice kept once. The source here is an
// in-memory queue: the real brokers are in test/event-sources/.
import { describe, expect, it } from 'vitest';
import { BatchAssembler, GroupLocks, MAX_BATCH_PAYLOAD_BYTES } from './batch-assembler.ts';
import type { SourcePoller, SourceRecord } from './source-kind.ts';

function memorySource(records: SourceRecord[]): SourcePoller & { calls: number } {
  const waiting = [...records];
  return {
    calls: 0,
    async connect() {},
    async receive(max) {
      this.calls++;
      return waiting.splice(0, max);
    },
    buildEvent: (r) => r,
    async settle() {
      return undefined;
    },
    async close() {},
  };
}

const rec = (id: string, eventBytes = 100): SourceRecord => ({
  id,
  filterView: {},
  eventBytes,
  deliveryCount: 1,
});
const signal = new AbortController().signal;

describe('BatchAssembler', () => {
  it('takes what one receive returned at window 0', async () => {
    const source = memorySource(Array.from({ length: 25 }, (_, i) => rec(`m${i}`)));
    const assembler = new BatchAssembler(source, { batchSize: 100, windowMs: 0, maxPerReceive: 10 });
    expect((await assembler.next(signal)).map((r) => r.id)).toHaveLength(10);
  });

  it('fills a batch above one receive within the window, up to the batch size', async () => {
    const source = memorySource(Array.from({ length: 25 }, (_, i) => rec(`m${i}`)));
    const assembler = new BatchAssembler(source, { batchSize: 20, windowMs: 1000, maxPerReceive: 10 });
    expect(await assembler.next(signal)).toHaveLength(20);
    expect(source.calls).toBe(2);
  });

  it('never passes 6 MB: the record that does not fit opens the next batch', async () => {
    const big = 2.5 * 1024 * 1024;
    const source = memorySource([rec('a', big), rec('b', big), rec('c', big)]);
    const assembler = new BatchAssembler(source, { batchSize: 10, windowMs: 0, maxPerReceive: 10 });
    const first = await assembler.next(signal);
    expect(first.map((r) => r.id)).toEqual(['a', 'b']);
    expect(first.reduce((n, r) => n + r.eventBytes, 0)).toBeLessThan(MAX_BATCH_PAYLOAD_BYTES);
    expect((await assembler.next(signal)).map((r) => r.id)).toEqual(['c']);
  });

  it('keeps the newest copy of a record received twice within one window', async () => {
    const first = { ...rec('x'), deliveryCount: 1 };
    const again = { ...rec('x'), deliveryCount: 2 };
    const source = memorySource([first, again, rec('y')]);
    const assembler = new BatchAssembler(source, { batchSize: 10, windowMs: 200, maxPerReceive: 1 });
    const batch = await assembler.next(signal);
    expect(batch.map((r) => [r.id, r.deliveryCount])).toEqual([
      ['x', 2],
      ['y', 1],
    ]);
  });

  it('receives the next batch ahead while the caller works on this one, and hands it out next', async () => {
    const source = memorySource(Array.from({ length: 25 }, (_, i) => rec(`m${i}`)));
    const assembler = new BatchAssembler(source, { batchSize: 10, windowMs: 0, maxPerReceive: 10 });
    expect((await assembler.next(signal)).map((r) => r.id)[0]).toBe('m0');
    assembler.prefetch(signal);
    assembler.prefetch(signal); // one batch ahead at most
    expect(source.calls).toBe(2);
    expect(assembler.holding).toBe(true);
    expect((await assembler.next(signal)).map((r) => r.id)[0]).toBe('m10');
    expect(source.calls).toBe(2);
    expect(assembler.holding).toBe(false);
    expect((await assembler.next(signal)).map((r) => r.id)).toHaveLength(5);
  });

  it('drops a batch that waited ahead for half of its lease, and receives afresh', async () => {
    const source = memorySource(Array.from({ length: 3 }, (_, i) => rec(`m${i}`)));
    const assembler = new BatchAssembler(source, {
      batchSize: 1,
      windowMs: 0,
      maxPerReceive: 10,
      leaseMs: 40,
    });
    await assembler.next(signal);
    assembler.prefetch(signal);
    await new Promise((r) => setTimeout(r, 100)); // the caller's invocation outlasts half the lease
    // m1 is dropped (the broker would deliver it again); m2 comes from a new receive.
    expect((await assembler.next(signal)).map((r) => r.id)).toEqual(['m2']);
    expect(source.calls).toBe(3);
  });

  it('gives a stopping loop the batch received ahead, and nothing when a receive failed', async () => {
    const source = memorySource([rec('a'), rec('b')]);
    const assembler = new BatchAssembler(source, { batchSize: 1, windowMs: 0, maxPerReceive: 10 });
    await assembler.next(signal);
    assembler.prefetch(signal);
    expect((await assembler.takeAhead()).map((r) => r.id)).toEqual(['b']);
    expect(await assembler.takeAhead()).toEqual([]);
    source.receive = async () => {
      throw new Error('connection lost');
    };
    assembler.prefetch(signal);
    expect(await assembler.takeAhead()).toEqual([]);
  });
});

describe('GroupLocks', () => {
  it('lets a batch run only when none of its groups is in flight', async () => {
    const locks = new GroupLocks();
    expect(await locks.acquire(['g1'], signal)).toBe(true);
    let second = false;
    const waiting = locks.acquire(['g1', 'g2'], signal).then((ok) => {
      second = ok;
    });
    expect(await locks.acquire(['g3'], signal)).toBe(true);
    await new Promise((r) => setTimeout(r, 10));
    expect(second).toBe(false);
    locks.release(['g1']);
    await waiting;
    expect(second).toBe(true);
  });
});
