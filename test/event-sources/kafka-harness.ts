// Runs a Kafka mapping against the real broker through the event-source runtime (MappingWorker and the Kafka
// kind), with the function at the Invoker boundary: a script that sees each batch's real Lambda event and
// answers as a handler would (success, a thrown error, or a partial batch response).
import { randomUUID } from 'node:crypto';
import { Producer } from '@platformatic/kafka';
import {
  type EventSourceMappingSpec,
  EventSourceMappingSpecSchema,
} from '../../apis/event-source-mapping.ts';
import { kafkaKind } from '../../gateway/src/event-sources/kafka/index.ts';
import type { SelfManagedKafkaEvent } from '../../gateway/src/event-sources/kafka/kafka-event.ts';
import type { MappingStatus } from '../../gateway/src/event-sources/mapping.ts';
import { MappingWorker } from '../../gateway/src/event-sources/mapping-worker.ts';
import { NO_OBSERVER } from '../../gateway/src/event-sources/observer.ts';
import type { SourceKind } from '../../gateway/src/event-sources/source-kind.ts';
import type { Invoker } from '../../gateway/src/invocation/invoker.ts';
import { Tracing } from '../../gateway/src/observability/tracing.ts';

export interface SeenRecord {
  partition: number;
  offset: number;
  key: string;
  value: string;
  timestamp: number;
}

/** What the function answers for a batch: nothing (success), an error, or batchItemFailures. */
export type Answer = undefined | { error: string } | { batchItemFailures: { itemIdentifier: string }[] };

export interface RunningMapping {
  /** Every batch the function was invoked with, in invocation order. */
  batches: SeenRecord[][];
  /** On-failure records sent to the destination. */
  failures: Record<string, any>[];
  /** The most batches of one partition that were running at the same time. */
  maxConcurrentPerPartition(): number;
  status(): MappingStatus;
  stop(): Promise<void>;
}

export function decodeBatch(event: SelfManagedKafkaEvent): SeenRecord[] {
  return Object.values(event.records)
    .flat()
    .map((r) => ({
      partition: r.partition,
      offset: r.offset,
      key: r.key === undefined ? '' : Buffer.from(r.key, 'base64').toString(),
      value: r.value === undefined ? '' : Buffer.from(r.value, 'base64').toString(),
      timestamp: r.timestamp,
    }));
}

/** The function, as the Invoker boundary sees it: resolve finds it, invoke runs the script on the payload. */
function scriptedFunction(
  answer: (batch: SeenRecord[], event: SelfManagedKafkaEvent) => Answer,
  batches: SeenRecord[][],
  concurrency: { running: Map<number, number>; max: number },
  durationMs: number,
) {
  return {
    resolve: () => ({ fn: {}, version: '$LATEST' }),
    async invoke(_target: unknown, payload: Buffer) {
      const event = JSON.parse(payload.toString()) as SelfManagedKafkaEvent;
      const batch = decodeBatch(event);
      batches.push(batch);
      const partition = batch[0]?.partition ?? -1;
      const running = (concurrency.running.get(partition) ?? 0) + 1;
      concurrency.running.set(partition, running);
      concurrency.max = Math.max(concurrency.max, running);
      // The handler takes a while, as real ones do, so concurrent batches overlap.
      if (durationMs > 0) await new Promise((r) => setTimeout(r, durationMs));
      concurrency.running.set(partition, (concurrency.running.get(partition) ?? 1) - 1);
      const a = answer(batch, event);
      const base = { requestId: randomUUID(), executedVersion: '$LATEST' };
      const result = { requestId: base.requestId, durationMs: 1, billedDurationMs: 1, maxMemoryUsedMB: 1 };
      if (a && 'error' in a) {
        return {
          ...base,
          result: { ...result, outcome: 'error', errorType: 'Error' },
          body: Buffer.from(JSON.stringify({ errorType: 'Error', errorMessage: a.error })),
        };
      }
      return {
        ...base,
        result: { ...result, outcome: 'success' },
        body: Buffer.from(JSON.stringify(a ?? null)),
      };
    },
  } as unknown as Invoker;
}

export function startMapping(
  spec: Record<string, unknown>,
  answer: (batch: SeenRecord[], event: SelfManagedKafkaEvent) => Answer = () => undefined,
  name = `m-${randomUUID().slice(0, 8)}`,
  durationMs = 0,
): RunningMapping {
  const concurrency = { running: new Map<number, number>(), max: 0 };
  const batches: SeenRecord[][] = [];
  const failures: Record<string, any>[] = [];
  const parsed: EventSourceMappingSpec = EventSourceMappingSpecSchema.parse({
    functionName: 'consumer',
    ...spec,
  });
  let status: MappingStatus | undefined;
  const worker = new MappingWorker(
    {
      uuid: randomUUID(),
      namespace: 'default',
      name,
      spec: parsed,
      origin: 'manifest',
      generation: 0,
      lastModified: Date.now(),
    },
    kafkaKind as unknown as SourceKind,
    {
      invoker: scriptedFunction(answer, batches, concurrency, durationMs),
      tracing: Tracing.off(),
      observer: NO_OBSERVER,
      sendFailureRecord: async (_destination, record) => {
        failures.push(record as Record<string, any>);
      },
      region: 'local',
      credentials: async () => ({}),
      reservedConcurrency: () => undefined,
      log: () => {},
      onStatus: (s) => {
        status = s;
      },
    },
  );
  worker.start();
  return {
    batches,
    failures,
    maxConcurrentPerPartition: () => concurrency.max,
    status: () => status ?? worker.status,
    stop: () => worker.stop(),
  };
}

export interface Produced {
  key?: string;
  value: string;
  partition?: number;
  timestamp?: number;
}

export async function produce(bootstrap: string, topic: string, messages: Produced[]): Promise<void> {
  const producer = new Producer({
    clientId: 'serval-test-producer',
    bootstrapBrokers: [bootstrap],
    autocreateTopics: false,
    // A send retried after a slow acknowledgement must not append its records twice: the tests count
    // deliveries per offset and would see the copies as replays out of order.
    idempotent: true,
  });
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({
        messages: messages.slice(i, i + 1000).map((m) => ({
          topic,
          key: m.key === undefined ? undefined : Buffer.from(m.key),
          value: Buffer.from(m.value),
          partition: m.partition,
          timestamp: m.timestamp === undefined ? undefined : BigInt(m.timestamp),
        })),
      });
    }
  } finally {
    await producer.close();
  }
}

export async function eventually(
  check: () => boolean,
  timeoutMs = 60_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const allRecords = (m: RunningMapping) => m.batches.flat();
