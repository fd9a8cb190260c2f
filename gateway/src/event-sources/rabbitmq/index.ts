// The RabbitMQ source kind: an AMQP consumer with prefetch = batch size, Lambda's aws:rmq event, acks after
// success and nack-with-requeue after a failure (Lambda retries MQ batches until they succeed or expire).
import { DEFAULT_BATCHING } from '../../../../apis/event-source-mapping.ts';
import type { SourceKind, SourcePoller } from '../source-kind.ts';
import { openRabbit, type RabbitSource } from './connection.ts';
import { type RabbitRecord, rabbitRecord } from './event.ts';

export const rabbitmqKind: SourceKind<RabbitRecord> = {
  kind: 'rabbitmq',
  dataKey: 'data',
  defaults: DEFAULT_BATCHING.rabbitmq,
  maxPerReceive: 10_000,
  ordering: 'none',
  sourceArn(spec, region, namespace) {
    const r = spec.source.rabbitmq!;
    const host = r.url ? new URL(r.url).hostname : r.secretRef!.name;
    return `arn:serval:mq:${region}:${namespace}:broker:${host}`;
  },
  open(context): SourcePoller<RabbitRecord> {
    const { spec, region, namespace } = context;
    const queue = spec.source.rabbitmq!.queue;
    const arn = rabbitmqKind.sourceArn(spec, region, namespace);
    let source: RabbitSource | undefined;
    const live = () => {
      if (!source) throw new Error('not connected');
      return source;
    };
    const release = async () => {
      const s = source;
      source = undefined;
      await s?.connection.close().catch(() => undefined);
    };
    return {
      async connect() {
        await release();
        const url = spec.source.rabbitmq!.url ?? (await context.credentials()).url;
        if (!url) throw new Error(`no broker URL in Secret ${spec.source.rabbitmq!.secretRef?.name}`);
        source = await openRabbit(url, queue, spec.batchSize ?? DEFAULT_BATCHING.rabbitmq.batchSize);
      },
      async receive(max, waitMs, signal) {
        const msgs = await live().buffer.receive(max, waitMs, signal);
        return msgs.map(rabbitRecord);
      },
      buildEvent(records) {
        const s = live();
        return {
          eventSource: 'aws:rmq',
          eventSourceArn: arn,
          rmqMessagesByQueue: { [`${s.queue}::${s.vhost}`]: records.map((r) => r.message) },
        };
      },
      async settle(records, outcome) {
        const { channel } = live();
        const failed = new Set(
          outcome.kind === 'failure' ? records : outcome.kind === 'partial' ? outcome.failed : [],
        );
        for (const r of records) {
          if (failed.has(r)) channel.nack(r.msg, false, true);
          else channel.ack(r.msg);
        }
        return undefined;
      },
      async backlog() {
        const s = live();
        const q = await s.channel.checkQueue(s.queue);
        return { messages: q.messageCount };
      },
      close: release,
    };
  },
};
