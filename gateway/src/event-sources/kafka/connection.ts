// Opens a mapping's consumer-group member on its topic: checks the topic exists, works out where each partition
// starts (the group's committed offset first; otherwise TRIM_HORIZON, LATEST or the AT_TIMESTAMP position) and
// starts the fetcher with manual commits only.
import { Admin, Consumer, type Message, type MessagesStream } from '@platformatic/kafka';
import type { EventSourceMappingSpec } from '../../../../apis/event-source-mapping.ts';
import type { KafkaRecordView } from './kafka-event.ts';

export interface KafkaConnection {
  pause(): void;
  resume(): void;
  commit(offsets: readonly { partition: number; offset: bigint; leaderEpoch: number }[]): Promise<void>;
  /** Records behind the committed offset, per assigned partition. */
  lag(): Promise<Map<number, number>>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  spec: EventSourceMappingSpec;
  groupId: string;
  /** `startOffset`: records below it are skipped (AT_TIMESTAMP on a partition without a committed offset). */
  onMessage: (
    message: Message,
    startOffset: bigint | undefined,
    timestampType: KafkaRecordView['timestampType'],
  ) => void;
  /** The partitions of the topic this member owns after a (re)join. */
  onAssigned: (partitions: number[]) => void;
  onLost: (err: Error) => void;
  log: (line: string) => void;
}

/** A broker answer the mapping cannot fix by retrying at once (no such topic); the runtime backs off. */
export class KafkaSourceError extends Error {}

const SESSION_TIMEOUT_MS = 10_000;
const HEARTBEAT_MS = 1_000;
const LATEST = -1n;

export async function connectKafka(o: ConnectOptions): Promise<KafkaConnection> {
  const { topic, bootstrapServers } = o.spec.source.kafka!;
  const consumer = new Consumer({
    clientId: `serval-${o.groupId}`.slice(0, 200),
    groupId: o.groupId,
    bootstrapBrokers: bootstrapServers,
    timeout: 10_000,
    retries: 2,
    retryDelay: 250,
    autocreateTopics: false,
  });
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined;
  let timestampType: KafkaRecordView['timestampType'] = 'CREATE_TIME';
  try {
    const metadata = await consumer
      .metadata({ topics: [topic], autocreateTopics: false })
      .catch((err: Error) => {
        if (/UNKNOWN_TOPIC|does not exist|unknown topic/i.test(describe(err)))
          throw new KafkaSourceError(`topic "${topic}" does not exist`);
        throw err;
      });
    const partitions = metadata.topics.get(topic)?.partitionsCount ?? 0;
    if (partitions === 0) throw new KafkaSourceError(`topic "${topic}" does not exist`);
    const startOffsets = await atTimestampStarts(consumer, o.spec, topic, partitions);
    timestampType = await topicTimestampType(bootstrapServers, topic);
    const position = o.spec.startingPosition ?? 'LATEST';
    stream = await consumer.consume({
      topics: [topic],
      mode: 'committed',
      fallbackMode: position === 'LATEST' ? 'latest' : 'earliest',
      autocommit: false,
      sessionTimeout: SESSION_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_MS,
      maxWaitTime: 500,
    });
    const s = stream;
    const type = timestampType;
    s.on('data', (m: Message) => o.onMessage(m, startOffsets.get(m.partition), type));
    s.on('error', (err: Error) => o.onLost(new Error(`kafka fetch failed: ${describe(err)}`)));
    s.on('close', () => o.onLost(new Error('the kafka consumer stream closed')));
    consumer.on('consumer:group:join', () => o.onAssigned(assigned(consumer, topic)));
    consumer.on('consumer:heartbeat:error', (payload: { error?: Error }) => {
      if (payload?.error) o.log(`kafka group ${o.groupId}: heartbeat failed: ${describe(payload.error)}`);
    });
    o.onAssigned(assigned(consumer, topic));
  } catch (err) {
    await stream?.close().catch(() => undefined);
    await consumer.close(true).catch(() => undefined);
    throw err instanceof KafkaSourceError
      ? err
      : new Error(`cannot reach Kafka at ${bootstrapServers.join(',')}: ${describe(err)}`);
  }
  const s = stream;
  let closing = false;
  return {
    pause: () => s.pause(),
    resume: () => s.resume(),
    async commit(offsets) {
      await consumer.commit({ offsets: offsets.map((x) => ({ topic, ...x })) });
    },
    async lag() {
      const lag = await consumer.getLag({ topics: [topic] });
      const out = new Map<number, number>();
      for (const [i, value] of (lag.get(topic) ?? []).entries()) if (value >= 0n) out.set(i, Number(value));
      return out;
    },
    async close() {
      if (closing) return;
      closing = true;
      s.removeAllListeners('close');
      s.removeAllListeners('error');
      s.on('error', () => {});
      await s.close().catch(() => undefined);
      await consumer.close(true).catch(() => undefined);
    },
  };
}

/** The topic's `message.timestamp.type`: LogAppendTime topics carry the broker's time, and Lambda says so. */
async function topicTimestampType(
  bootstrapServers: string[],
  topic: string,
): Promise<KafkaRecordView['timestampType']> {
  const admin = new Admin({
    clientId: 'serval-topic-config',
    bootstrapBrokers: bootstrapServers,
    retries: 1,
  });
  try {
    const [description] = await admin.describeConfigs({
      resources: [{ resourceType: 2, resourceName: topic, configurationKeys: ['message.timestamp.type'] }],
    });
    const value = description?.configs.find((c) => c.name === 'message.timestamp.type')?.value;
    return value === 'LogAppendTime' ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
  } finally {
    await admin.close().catch(() => undefined);
  }
}

function assigned(consumer: Consumer<Buffer, Buffer, Buffer, Buffer>, topic: string): number[] {
  return consumer.assignments?.find((a) => a.topic === topic)?.partitions ?? [];
}

/**
 * AT_TIMESTAMP: for each partition the group has no committed offset on, the first offset at or after the
 * timestamp (the end when there is none). Partitions with a commit resume from it, as Lambda's do.
 */
async function atTimestampStarts(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  spec: EventSourceMappingSpec,
  topic: string,
  partitions: number,
): Promise<Map<number, bigint>> {
  const starts = new Map<number, bigint>();
  if (spec.startingPosition !== 'AT_TIMESTAMP' || !spec.startingPositionTimestamp) return starts;
  const all = Array.from({ length: partitions }, (_, i) => i);
  const committed = await consumer.listCommittedOffsets({ topics: [{ topic, partitions: all }] });
  const atTime = await consumer.listOffsets({
    topics: [topic],
    timestamp: BigInt(Date.parse(spec.startingPositionTimestamp)),
  });
  const ends = await consumer.listOffsets({ topics: [topic], timestamp: LATEST });
  for (const p of all) {
    if ((committed.get(topic)?.[p] ?? -1n) >= 0n) continue;
    const at = atTime.get(topic)?.[p] ?? -1n;
    starts.set(p, at >= 0n ? at : (ends.get(topic)?.[p] ?? 0n));
  }
  return starts;
}

function describe(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return `${err.message}: ${err.errors.map((e) => describe(e)).join('; ')}`;
  }
  return err instanceof Error ? err.message : String(err);
}
