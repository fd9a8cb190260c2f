// The Kafka stream source kind (self-managed Apache Kafka, reference §10.5): one consumer-group member per
// mapping per gateway, records in order per partition (per key with parallelizationFactor), Lambda's stream
// error handling, offsets committed only after success.
import type { EventSourceMappingSpec } from '../../../../apis/event-source-mapping.ts';
import type { SourceKind } from '../source-kind.ts';
import type { KafkaRecord } from './kafka-record.ts';
import { KafkaPoller } from './poller.ts';

/** Lambda's ConsumerGroupId defaults to the mapping's UUID; ours to its namespace and name, stable per manifest. */
export function consumerGroupOf(spec: EventSourceMappingSpec, namespace: string, name: string): string {
  return spec.source.kafka?.consumerGroup ?? `serval-${namespace}-${name}`;
}

export const kafkaKind: SourceKind<KafkaRecord> = {
  kind: 'kafka',
  dataKey: 'value',
  // Lambda's Kafka defaults: 100 records, a 500 ms window that starts at the first record.
  defaults: { batchSize: 100, batchingWindowMs: 500 },
  maxPerReceive: 10_000,
  ordering: 'none', // the poller itself hands out one batch per partition (or key slot) at a time
  assemblesBatches: true,
  sourceArn: (spec) => `kafka://${spec.source.kafka!.bootstrapServers.join(',')}/${spec.source.kafka!.topic}`,
  open: (context) => new KafkaPoller(context, consumerGroupOf(context.spec, context.namespace, context.name)),
};
