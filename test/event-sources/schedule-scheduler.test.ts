// Schedules fire exactly once per tick: two scheduler replicas on one real JetStream queue (each with its own
// connection, as two gateways have), one of them restarted mid-run, then both stopped and started again, all
// under a clock running 30 times faster than real time so `rate(1 minute)` ticks every 2 s.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventQueue } from '../../gateway/src/async/event-queue.ts';
import { NatsLink } from '../../gateway/src/async/nats-link.ts';
import { NatsEventQueue } from '../../gateway/src/async/nats-queue.ts';
import { SqliteEventQueue } from '../../gateway/src/async/sqlite-queue.ts';
import type { MappingDefinition } from '../../gateway/src/event-sources/mapping.ts';
import { scaledClock } from '../../gateway/src/event-sources/schedule/clock.ts';
import { Scheduler, type TickOutcome } from '../../gateway/src/event-sources/schedule/scheduler.ts';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { testDataRoot } from '../support/serval.ts';

const SCALE = 30;
const MINUTE = 60_000;
const clock = scaledClock(SCALE, Date.now());

const mapping: MappingDefinition = {
  uuid: '0d7c6a52-4b7e-4c55-9d51-2f8f8f3f0001',
  namespace: 'default',
  name: 'every-minute',
  spec: {
    functionName: 'report',
    source: { schedule: { expression: 'rate(1 minute)' } },
    bisectBatchOnFunctionError: false,
    maximumRetryAttempts: -1,
    maximumRecordAgeSeconds: -1,
    enabled: true,
  },
  origin: 'manifest',
  generation: 0,
  lastModified: 0,
};

interface Replica {
  scheduler: Scheduler;
  outcomes: TickOutcome[];
  stop(): Promise<void>;
}

async function replica(queue: EventQueue, close: () => Promise<void>): Promise<Replica> {
  const outcomes: TickOutcome[] = [];
  const scheduler = new Scheduler({
    queue,
    clock,
    region: 'local',
    log: () => {},
    // Scaled: 5 minutes of schedule time is 10 s of real time, inside JetStream's 2-minute duplicate window.
    lateToleranceMs: 5 * MINUTE,
    observer: { tick: (_l, outcome) => outcomes.push(outcome), next() {}, removed() {} },
  });
  await scheduler.put(mapping);
  return {
    scheduler,
    outcomes,
    async stop() {
      await scheduler.close();
      await close();
    },
  };
}

/** Waits (real time) until the scaled clock passes `t`. */
async function until(t: number) {
  while (clock.now() < t) await new Promise((r) => setTimeout(r, 50));
}

/** Every event in the queue, acked, as tick times (epoch ms of the Scheduled Event's `time`). */
async function drainTicks(queue: EventQueue): Promise<number[]> {
  const ticks: number[] = [];
  for (let idle = 0; idle < 3; ) {
    const leased = await queue.take(Date.now());
    if (!leased) {
      idle++;
      continue;
    }
    const event = JSON.parse(leased.event.payload.toString()) as {
      time: string;
      id: string;
      'detail-type': string;
    };
    expect(event['detail-type']).toBe('Scheduled Event');
    expect(event.id).toBe(leased.event.requestId);
    ticks.push(Date.parse(event.time));
    await queue.ack(leased);
  }
  return ticks.sort((a, b) => a - b);
}

/**
 * Every minute tick in [from, to] fired exactly once. Ticks within half a (scaled) minute of either edge may
 * or may not have fired: replicas start and stop a little after the test reads the clock on a loaded machine.
 */
function expectOncePerMinute(ticks: number[], from: number, to: number) {
  expect(new Set(ticks).size).toBe(ticks.length);
  const slack = MINUTE / 2;
  const firm: number[] = [];
  for (let t = Math.ceil((from + slack) / MINUTE) * MINUTE; t <= to - slack; t += MINUTE) firm.push(t);
  expect(firm.length).toBeGreaterThanOrEqual(2);
  expect(ticks.filter((t) => t >= from + slack && t <= to - slack)).toEqual(firm);
}

describe.skipIf(!natsAvailable)('schedules with two replicas on JetStream', () => {
  let nats: TestNats;
  const links: NatsLink[] = [];
  const openQueue = async () => {
    const link = new NatsLink(nats.url);
    links.push(link);
    return { queue: await NatsEventQueue.open(await link.open(), 30), close: () => link.close() };
  };
  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    for (const l of links) await l.close().catch(() => {});
    await nats?.stop();
  });

  it('fires every tick once, through a replica restart and a full stop', async () => {
    const a1 = await openQueue();
    const b1 = await openQueue();
    let a = await replica(a1.queue, a1.close);
    const b = await replica(b1.queue, b1.close);
    // Read after both run: on a loaded machine opening the queues takes a good part of a scaled minute.
    const start = clock.now();
    const firstA = a;
    await until(start + 3.2 * MINUTE);
    // Replica A restarts while B keeps running: no tick is lost or doubled.
    await a.stop();
    const a2 = await openQueue();
    a = await replica(a2.queue, a2.close);
    await until(start + 6.2 * MINUTE);
    const running = clock.now();
    await Promise.all([a.stop(), b.stop()]);
    const stoppedAt = clock.now();
    // Both down for about three ticks, then both back: the ticks in between are skipped, not caught up.
    await until(stoppedAt + 3.1 * MINUTE);
    const beforeRestart = clock.now();
    const a3 = await openQueue();
    const b3 = await openQueue();
    const [ra, rb] = await Promise.all([replica(a3.queue, a3.close), replica(b3.queue, b3.close)]);
    const restartedAt = clock.now();
    await until(restartedAt + 3.2 * MINUTE);
    const end = clock.now();
    await Promise.all([ra.stop(), rb.stop()]);

    const reader = await openQueue();
    const ticks = await drainTicks(reader.queue);
    expectOncePerMinute(ticks, start, running);
    expect(ticks.filter((t) => t > stoppedAt && t <= beforeRestart)).toEqual([]);
    expectOncePerMinute(ticks, restartedAt, end);
    // Both replicas offered most ticks; the queue kept one copy of each.
    const outcomes = [firstA, a, b, ra, rb].flatMap((r) => r.outcomes);
    expect(outcomes.filter((o) => o === 'fired')).toHaveLength(ticks.length);
    expect(outcomes.filter((o) => o === 'duplicate').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 'missed')).toEqual([]);
  }, 120_000);
});

describe('schedules on the embedded SQLite queue', () => {
  const dir = mkdtempSync(join(testDataRoot(), 'schedule-sqlite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fires every tick once across a restart of the gateway', async () => {
    let queue = new SqliteEventQueue(dir);
    let r = await replica(queue, () => queue.close());
    const start = clock.now();
    await until(start + 3.2 * MINUTE);
    const stoppedAt = clock.now();
    await r.stop();
    queue = new SqliteEventQueue(dir);
    r = await replica(queue, async () => {});
    const restartedAt = clock.now();
    await until(restartedAt + 3.2 * MINUTE);
    const end = clock.now();
    await r.scheduler.close();
    const ticks = await drainTicks(queue);
    // The tick the first run fired last is not fired again by the restarted one (ticks are unique).
    expectOncePerMinute(ticks, start, stoppedAt);
    expectOncePerMinute(ticks, restartedAt, end);
    await queue.close();
  }, 90_000);

  it('reports the next fire times of a running mapping', async () => {
    const queue = new SqliteEventQueue(join(dir, 'next'));
    const r = await replica(queue, () => queue.close());
    const next = r.scheduler.nextFireTimes(mapping.uuid, 3);
    expect(next).toHaveLength(3);
    expect(next[0]! % MINUTE).toBe(0);
    expect(next[1]! - next[0]!).toBe(MINUTE);
    // After the tick, listeners hear of it and the next fire times have moved on.
    const advanced: string[] = [];
    r.scheduler.onAdvance((uuid) => advanced.push(uuid));
    await until(next[0]! + 0.5 * MINUTE);
    expect(advanced).toContain(mapping.uuid);
    expect(r.scheduler.nextFireTimes(mapping.uuid, 1)).toEqual([next[1]]);
    await r.stop();
  });
});
