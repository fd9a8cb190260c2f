// Lambda's self-managed Kafka event (reference §10.5), built from the records of one batch: `records` keyed
// `<topic>-<partition>`, key and value base64 (absent when null), headers as arrays of signed bytes.

export interface KafkaRecordView {
  topic: string;
  partition: number;
  offset: bigint;
  /** Epoch ms. */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  key: Buffer | undefined;
  value: Buffer | undefined;
  headers: readonly (readonly [string, Buffer])[];
}

export interface KafkaEventRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  key?: string;
  value?: string;
  headers: Record<string, number[]>[];
}

export interface SelfManagedKafkaEvent {
  eventSource: 'SelfManagedKafka';
  bootstrapServers: string;
  records: Record<string, KafkaEventRecord[]>;
}

/** Java's byte is signed, and Lambda's header arrays are what Java's `byte[]` prints: -128…127. */
const signedBytes = (b: Buffer) => Array.from(new Int8Array(b.buffer, b.byteOffset, b.length));

export function kafkaEventRecord(r: KafkaRecordView): KafkaEventRecord {
  const out: KafkaEventRecord = {
    topic: r.topic,
    partition: r.partition,
    offset: Number(r.offset),
    timestamp: r.timestamp,
    timestampType: r.timestampType,
    headers: r.headers.map(([name, value]) => ({ [name]: signedBytes(value) })),
  };
  if (r.key !== undefined) out.key = r.key.toString('base64');
  if (r.value !== undefined) out.value = r.value.toString('base64');
  return out;
}

export function selfManagedKafkaEvent(
  bootstrapServers: readonly string[],
  records: readonly KafkaRecordView[],
): SelfManagedKafkaEvent {
  const grouped: Record<string, KafkaEventRecord[]> = {};
  for (const r of records) {
    const key = `${r.topic}-${r.partition}`;
    const list = grouped[key];
    if (list === undefined) grouped[key] = [kafkaEventRecord(r)];
    else list.push(kafkaEventRecord(r));
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers: bootstrapServers.join(','), records: grouped };
}
