// Both queue backends keep the same contract: accepted means stored, leased events come back after a restart,
// retries replace, dead letters can be listed, redriven and purged. Real SQLite and a real nats-server.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AsyncEvent, type EventQueue, newEvent } from '../../gateway/src/async/event-queue.ts';
import { NatsLink } from '../../gateway/src/async/nats-link.ts';
import { NatsEventQueue } from '../../gateway/src/async/nats-queue.ts';
import { SqliteEventQueue } from '../../gateway/src/async/sqlite-queue.ts';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { testDataRoot } from '../support/serval.ts';

interface Backend {
  name: string;
  /** Opens the queue on the same store each time, as a restarted gateway would. */
  open(): Promise<EventQueue>;
  /** Closes whatever `open` made. */
  release(queue: EventQueue): Promise<void>;
}

let nats: TestNats;
const links: NatsLink[] = [];
const dir = mkdtempSync(join(testDataRoot(), 'queue-contract-'));

beforeAll(async () => {
  if (natsAvailable) nats = await startNats();
});
afterAll(async () => {
  for (const link of links) await link.close();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const backends: Backend[] = [
  {
    name: 'sqlite',
    open: async () => new SqliteEventQueue(join(dir, 'sqlite')),
    release: (q) => q.close(),
  },
  {
    name: 'nats',
    // A short ack wait, so an event leased by a "dead" gateway comes back within the test.
    open: async () => {
      const link = new NatsLink(nats.url);
      links.push(link);
      return NatsEventQueue.open(await link.open(), 1);
    },
    release: async () => {
      await links.pop()?.close();
    },
  },
];

function event(id: string, now = Date.now()): AsyncEvent {
  return newEvent(
    {
      requestId: id,
      namespace: 'default',
      functionName: 'f',
      qualifier: undefined,
      payload: Buffer.from(`{"id":"${id}"}`),
      traceHeader: undefined,
    },
    now,
  );
}

async function takeAll(queue: EventQueue, want: number, timeoutMs = 10_000) {
  const got = [];
  const until = Date.now() + timeoutMs;
  while (got.length < want && Date.now() < until) {
    const leased = await queue.take(Date.now());
    if (leased) got.push(leased);
    else await new Promise((r) => setTimeout(r, 20));
  }
  return got;
}

describe.each(backends.filter((b) => b.name !== 'nats' || natsAvailable))('$name queue', (backend) => {
  it('keeps what was accepted across a restart, including events that were running', async () => {
    let queue = await backend.open();
    await Promise.all(Array.from({ length: 200 }, (_, i) => queue.enqueue(event(`a-${i}`))));
    const leased = await takeAll(queue, 50);
    expect(leased).toHaveLength(50);
    for (const l of leased.slice(0, 10)) await queue.ack(l);
    // The gateway dies holding 40 leases and 150 untouched events.
    await backend.release(queue);
    queue = await backend.open();
    const ids = new Set((await takeAll(queue, 190, 15_000)).map((l) => l.event.requestId));
    expect(ids.size).toBe(190);
    for (const l of leased.slice(0, 10)) expect(ids.has(l.event.requestId)).toBe(false);
    await backend.release(queue);
  });

  it('keeps one copy of a keyed event offered by two handles and again after a restart, even once acked', async () => {
    const a = await backend.open();
    await drain(a);
    const b = backend.name === 'nats' ? await backend.open() : a; // SQLite: one gateway owns the file
    const offers = await Promise.all([
      a.enqueueOnce(event('once-1'), 'tick-1'),
      b.enqueueOnce(event('once-1'), 'tick-1'),
      a.enqueueOnce(event('once-2'), 'tick-2'),
    ]);
    expect(offers.filter(Boolean)).toHaveLength(2);
    const taken = await takeAll(a, 2);
    expect(taken.map((l) => l.event.requestId).sort()).toEqual(['once-1', 'once-2']);
    for (const l of taken) await a.ack(l);
    if (b !== a) await backend.release(b);
    await backend.release(a);
    const restarted = await backend.open();
    expect(await restarted.enqueueOnce(event('once-1'), 'tick-1')).toBe(false);
    expect(await restarted.take(Date.now())).toBeUndefined();
    await backend.release(restarted);
  });

  it('holds a retried event back until it is due and keeps its new attempt count', async () => {
    const queue = await backend.open();
    await drain(queue);
    await queue.enqueue(event('r-1'));
    const [first] = await takeAll(queue, 1);
    await queue.retry(first!, { ...first!.event, attempts: 1, notBefore: Date.now() + 700 });
    expect(await queue.take(Date.now())).toBeUndefined();
    const [again] = await takeAll(queue, 1);
    expect(again!.event.requestId).toBe('r-1');
    expect(again!.event.attempts).toBe(1);
    expect(Date.now()).toBeGreaterThanOrEqual(first!.event.acceptedAt + 700);
    await queue.ack(again!);
    await backend.release(queue);
  });

  it('lists, redrives and purges dead letters, and counts them in stats', async () => {
    const queue = await backend.open();
    await drain(queue);
    await queue.purge({ functionName: 'f', namespace: 'default' });
    for (const id of ['d-1', 'd-2', 'd-3']) await queue.enqueue(event(id, Date.now() - 5000));
    const stats = await queue.stats(Date.now());
    expect(stats.depth).toBe(3);
    expect(stats.oldestEventAgeSeconds).toBeGreaterThanOrEqual(5);
    for (const l of await takeAll(queue, 3)) {
      const last = { statusCode: 200, functionError: 'Unhandled', errorType: 'Error', errorMessage: 'boom' };
      await queue.deadLetter(
        l,
        { condition: 'RetriesExhausted', failedAt: Date.now(), reason: 'test' },
        { ...l.event, attempts: 3, last },
      );
    }
    const letters = await queue.listDeadLetters({ namespace: 'default', functionName: 'f' });
    expect(letters.map((l) => l.event.requestId).sort()).toEqual(['d-1', 'd-2', 'd-3']);
    expect(letters[0]!.event.last?.errorMessage).toBe('boom');
    expect(letters[0]!.event.payload.toString()).toMatch(/"id":"d-/);
    expect((await queue.stats(Date.now())).deadLetters).toBe(3);
    expect((await queue.stats(Date.now())).depth).toBe(0);

    const one = letters.find((l) => l.event.requestId === 'd-2')!;
    expect(await queue.redrive({ ids: [one.id] }, Date.now())).toBe(1);
    const [redriven] = await takeAll(queue, 1);
    expect(redriven!.event.requestId).toBe('d-2');
    expect(redriven!.event.attempts).toBe(0);
    await queue.ack(redriven!);
    expect(await queue.purge({ namespace: 'default', functionName: 'f' })).toBe(2);
    expect((await queue.stats(Date.now())).deadLetters).toBe(0);
    await backend.release(queue);
  });
});

async function drain(queue: EventQueue): Promise<void> {
  for (;;) {
    const l = await queue.take(Date.now());
    if (!l) return;
    await queue.ack(l);
  }
}

describe('closing the SQLite queue', () => {
  it('finishes even when it is the last thing a process does', () => {
    const script = `
      import { SqliteEventQueue } from ${JSON.stringify(join(import.meta.dirname, '../../gateway/src/async/sqlite-queue.ts'))};
      const queue = new SqliteEventQueue(${JSON.stringify(join(dir, 'last'))});
      await queue.close();
      console.log('closed');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('closed');
    expect(r.status).toBe(0);
  });
});
