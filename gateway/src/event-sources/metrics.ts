// Prometheus series of event source mappings (docs/observability.md), registered in the gateway's registry.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventSourceObserver, MappingLabels } from './observer.ts';

const LABELS = ['namespace', 'function', 'mapping', 'kind'] as const;
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2500, 5000, 10000];
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

export function eventSourceMetrics(registry: Registry): EventSourceObserver {
  const registers = [registry];
  const messages = new Counter({
    name: 'serval_event_source_messages_total',
    help: 'Messages of an event source mapping by outcome: polled, filtered, invoked, failed, dropped.',
    labelNames: [...LABELS, 'outcome'],
    registers,
  });
  const redelivered = new Counter({
    name: 'serval_event_source_redelivered_total',
    help: 'Polled messages the broker had delivered before (possible duplicates: at-least-once delivery).',
    labelNames: LABELS,
    registers,
  });
  const throttles = new Counter({
    name: 'serval_event_source_throttles_total',
    help: 'Batches refused by concurrency limits; each waits and is invoked again, never dropped.',
    labelNames: LABELS,
    registers,
  });
  const batchSize = new Histogram({
    name: 'serval_event_source_batch_size',
    help: 'Records per invocation of an event source mapping.',
    labelNames: LABELS,
    buckets: BATCH_BUCKETS,
    registers,
  });
  const sendToInvoke = new Histogram({
    name: 'serval_event_source_send_to_invoke_seconds',
    help: 'From the broker accepting a message to the invocation that carries it.',
    labelNames: LABELS,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const up = new Gauge({
    name: 'serval_event_source_up',
    help: '1 while the mapping is connected to its source, 0 while it is unreachable.',
    labelNames: LABELS,
    registers,
  });
  const backlog = new Gauge({
    name: 'serval_event_source_backlog_messages',
    help: 'Messages waiting in the source, as the broker reports it.',
    labelNames: LABELS,
    registers,
  });
  const oldest = new Gauge({
    name: 'serval_event_source_oldest_message_age_seconds',
    help: 'Age of the oldest waiting message, where the broker reports it.',
    labelNames: LABELS,
    registers,
  });
  const offsetLag = new Gauge({
    name: 'serval_event_source_offset_lag',
    help: "Records behind the group's committed offset, per partition of a stream (Lambda's OffsetLag).",
    labelNames: [...LABELS, 'partition'],
    registers,
  });
  const requests = new Counter({
    name: 'serval_event_source_broker_requests_total',
    help: "API calls a mapping made to its broker, by operation (SQS's ReceiveMessage, DeleteMessageBatch, …).",
    labelNames: [...LABELS, 'operation'],
    registers,
  });
  const partitionsOf = new Map<string, Set<string>>();
  const operationsOf = new Map<string, Set<string>>();
  const all = [redelivered, throttles, batchSize, sendToInvoke, up, backlog, oldest];
  const label = (l: MappingLabels) => ({
    namespace: l.namespace,
    function: l.function,
    mapping: l.mapping,
    kind: l.kind,
  });
  return {
    polled(l, count, again) {
      messages.inc({ ...label(l), outcome: 'polled' }, count);
      if (again > 0) redelivered.inc(label(l), again);
    },
    filtered: (l, count) => messages.inc({ ...label(l), outcome: 'filtered' }, count),
    invoked(l, size, latencies) {
      messages.inc({ ...label(l), outcome: 'invoked' }, size);
      batchSize.observe(label(l), size);
      const series = sendToInvoke.labels(label(l));
      for (const ms of latencies) series.observe(Math.max(0, ms) / 1000);
    },
    failed: (l, count) => messages.inc({ ...label(l), outcome: 'failed' }, count),
    dropped: (l, count) => messages.inc({ ...label(l), outcome: 'dropped' }, count),
    throttled: (l) => throttles.inc(label(l)),
    connected: (l, isUp) => up.set(label(l), isUp ? 1 : 0),
    backlog(l, b) {
      if (b.messages !== undefined) backlog.set(label(l), b.messages);
      if (b.oldestAgeSeconds !== undefined) oldest.set(label(l), b.oldestAgeSeconds);
      if (b.partitions) {
        const key = JSON.stringify(label(l));
        const known = partitionsOf.get(key) ?? new Set<string>();
        // A partition this replica no longer owns is another replica's to report.
        for (const p of known) if (!(p in b.partitions)) offsetLag.remove({ ...label(l), partition: p });
        for (const [partition, lag] of Object.entries(b.partitions))
          offsetLag.set({ ...label(l), partition }, lag);
        partitionsOf.set(key, new Set(Object.keys(b.partitions)));
      }
    },
    brokerRequest(l, operation) {
      requests.inc({ ...label(l), operation });
      const key = JSON.stringify(label(l));
      const known = operationsOf.get(key) ?? new Set<string>();
      known.add(operation);
      operationsOf.set(key, known);
    },
    removed(l) {
      for (const metric of all) metric.remove(label(l));
      const key = JSON.stringify(label(l));
      for (const partition of partitionsOf.get(key) ?? []) offsetLag.remove({ ...label(l), partition });
      partitionsOf.delete(key);
      for (const operation of operationsOf.get(key) ?? []) requests.remove({ ...label(l), operation });
      operationsOf.delete(key);
      for (const outcome of ['polled', 'filtered', 'invoked', 'failed', 'dropped'])
        messages.remove({ ...label(l), outcome });
    },
  };
}
