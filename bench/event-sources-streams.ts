// Streams and schedules for docs/benchmarks.md: Kafka records per second from a real broker through `serval
// dev` to a no-op function at batch size 100, and how late schedule ticks land on the durable queue.
// `node bench/event-sources-streams.ts` prints the section alone; bench/run.ts includes it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteEventQueue } from '../gateway/src/async/sqlite-queue.ts';
import type { MappingDefinition } from '../gateway/src/event-sources/mapping.ts';
import { SYSTEM_CLOCK } from '../gateway/src/event-sources/schedule/clock.ts';
import { Scheduler } from '../gateway/src/event-sources/schedule/scheduler.ts';
import { produce } from '../test/event-sources/kafka-harness.ts';
import { freePort } from '../test/support/free-port.ts';
import { kafkaAvailable, startKafka } from '../test/support/kafka.ts';
import { startServalProcess } from './serval-process.ts';

const RECORDS = Number(process.env.BENCH_KAFKA_RECORDS ?? 50_000);
const PARTITIONS = 4;
const SCHEDULES = Number(process.env.BENCH_SCHEDULES ?? 200);

const progress = (line: string) =>
  process.stderr.write(`bench streams: ${new Date().toISOString()} ${line}\n`);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

async function invokedCount(metricsUrl: string): Promise<number> {
  const text = await fetch(metricsUrl).then(
    (r) => r.text(),
    () => '',
  );
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('serval_event_source_messages_total{') && line.includes('outcome="invoked"')) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}

/** Records/s from the first invocation to the last, draining a pre-filled topic. */
async function kafkaThroughput(): Promise<{ rate: number; seconds: number }> {
  const kafka = await startKafka();
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-streams-'));
  try {
    await kafka.createTopic('bench', PARTITIONS);
    await produce(
      kafka.bootstrap,
      'bench',
      Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i % 1000}`, value: `{"n":${i}}` })),
    );
    progress(`${RECORDS} records produced`);
    const manifests = join(dir, 'manifests');
    mkdirSync(manifests);
    writeFileSync(
      join(manifests, 'bench.yaml'),
      `apiVersion: serval.dev/v1alpha1
kind: Function
metadata: {name: noop}
spec: {runtime: nodejs24.x, handler: index.handler, code: {inline: {index.mjs: "export const handler = async () => {};"}}}
---
apiVersion: serval.dev/v1alpha1
kind: EventSourceMapping
metadata: {name: bench}
spec:
  functionName: noop
  source: {kafka: {bootstrapServers: ["${kafka.bootstrap}"], topic: bench}}
  startingPosition: TRIM_HORIZON
  batchSize: 100
  maximumBatchingWindowSeconds: 0
`,
    );
    const metricsPort = await freePort();
    const { child } = await startServalProcess(manifests, {
      SERVAL_DATA_DIR: join(dir, 'data'),
      SERVAL_METRICS_PORT: String(metricsPort),
    });
    try {
      progress('serval dev started');
      const metrics = `http://127.0.0.1:${metricsPort}/metrics`;
      let first = 0;
      for (;;) {
        const n = await invokedCount(metrics);
        if (n > 0 && first === 0) first = performance.now();
        if (n >= RECORDS) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const seconds = (performance.now() - first) / 1000;
      return { rate: RECORDS / seconds, seconds };
    } finally {
      child.kill('SIGTERM');
    }
  } finally {
    await kafka.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How late ticks land on the queue: SCHEDULES mappings of rate(1 minute), two minute boundaries. */
export async function tickLateness(clock = SYSTEM_CLOCK): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-ticks-'));
  const queue = new SqliteEventQueue(dir);
  const lateness: number[] = [];
  const scheduler = new Scheduler({
    queue: {
      async enqueueOnce(event, key) {
        const done = await queue.enqueueOnce(event, key);
        const tick = Number(key.slice(key.lastIndexOf(':') + 1));
        lateness.push(Date.now() - tick);
        return done;
      },
    },
    clock,
    region: 'local',
    log: () => {},
  });
  for (let i = 0; i < SCHEDULES; i++) {
    const mapping: MappingDefinition = {
      uuid: `bench-${i}`,
      namespace: 'default',
      name: `tick-${i}`,
      spec: {
        functionName: 'noop',
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
    await scheduler.put(mapping);
  }
  progress(`${SCHEDULES} schedules running; waiting for two ticks each`);
  while (lateness.length < 2 * SCHEDULES) await new Promise((r) => setTimeout(r, 250));
  await scheduler.close();
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
  return lateness;
}

export async function streamsBench(): Promise<string> {
  if (!kafkaAvailable)
    return '## Streams and schedules\n\nSkipped: Java or the Kafka jars are missing (scripts/kafka-jars.sh).\n';
  const kafka = await kafkaThroughput();
  const ticks = await tickLateness();
  return `## Streams and schedules (bench/event-sources-streams.ts)

Kafka: ${RECORDS} records pre-filled in a ${PARTITIONS}-partition topic of a real KRaft broker (one JVM, 512 MB
heap, on the same machine), drained by \`serval dev\` into a no-op Node function, batch size 100, window 0,
parallelizationFactor 1 (so at most ${PARTITIONS} batches at once). Rate is from the first to the last invocation,
read from the gateway's own \`serval_event_source_messages_total{outcome="invoked"}\`.

| Measure | Result | Target |
|---|---|---|
| Kafka → no-op, batch 100 | ${kafka.rate.toFixed(0)} records/s (${RECORDS} in ${kafka.seconds.toFixed(1)} s) | ≥ 5,000 records/s |
| Schedule tick lateness p50 / p99 / max (${ticks.length} ticks of ${SCHEDULES} \`rate(1 minute)\` schedules, due → on the SQLite queue) | ${pct(ticks, 50).toFixed(1)} / ${pct(ticks, 99).toFixed(1)} / ${Math.max(...ticks).toFixed(1)} ms | p99 ≤ 1,000 ms |
`;
}

if (import.meta.main) process.stdout.write(await streamsBench());
