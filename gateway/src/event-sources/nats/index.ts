// The NATS JetStream source kind: a durable pull consumer per mapping, Serval's Kinesis-style event.
import { DEFAULT_BATCHING } from '../../../../apis/event-source-mapping.ts';
import { recordsPayload } from '../record-json.ts';
import type { SourceKind, SourcePoller } from '../source-kind.ts';
import { ACK_WAIT_MS, consumerName, type NatsSource, openNats, refusedLogin } from './connection.ts';
import { type NatsRecord, natsRecord } from './event.ts';
import { NatsReceiver } from './receive.ts';
import { settleNats } from './settle.ts';

/** Most messages buffered ahead of the loops. */
const MAX_PREFETCH = 1_000;

export const natsKind: SourceKind<NatsRecord> = {
  kind: 'nats',
  dataKey: 'data',
  defaults: DEFAULT_BATCHING.nats,
  maxPerReceive: 10_000,
  ordering: 'none',
  sourceArn(spec, region, namespace) {
    const nats = spec.source.nats!;
    return `arn:serval:nats:${region}:${namespace}:stream/${nats.stream ?? '*'}/subject/${nats.subject}`;
  },
  open(context): SourcePoller<NatsRecord> {
    const { spec, name, region, namespace } = context;
    let source: NatsSource | undefined;
    let receiver: NatsReceiver | undefined;
    let arn = natsKind.sourceArn(spec, region, namespace);
    const batchSize = spec.batchSize ?? DEFAULT_BATCHING.nats.batchSize;
    const release = async () => {
      await receiver?.stop();
      await source?.nc.close().catch(() => undefined);
      receiver = undefined;
      source = undefined;
    };
    const live = () => {
      if (!source || !receiver) throw new Error('not connected');
      return { source, receiver };
    };
    return {
      async connect() {
        await release();
        const { url } = await context.credentials();
        if (!url) throw new Error('no NATS server: set source.nats.url or the gateway’s SERVAL_NATS_URL');
        try {
          source = await openNats(url, spec, name);
        } catch (err) {
          throw refusedLogin(err, spec, namespace);
        }
        arn = `arn:serval:nats:${region}:${namespace}:stream/${source.stream}/consumer/${consumerName(spec, name)}`;
        receiver = new NatsReceiver();
        await receiver.start(source, Math.min(MAX_PREFETCH, batchSize * 50));
      },
      async receive(max, waitMs, signal) {
        const msgs = await live().receiver.receive(max, waitMs, signal);
        return msgs.map((m) => natsRecord(m, arn, region));
      },
      buildEvent: (records) => ({ Records: records.map((r) => r.event) }),
      eventPayload: recordsPayload,
      settle: (records, outcome) => settleNats(live().source, records, outcome),
      leaseMs: () => ACK_WAIT_MS,
      async extendLease(records) {
        for (const r of records) r.msg.working();
      },
      failureBatchInfo(records) {
        const seqs = records.map((r) => r.event.nats.sequence);
        const times = records.map((r) => r.event.nats.timestamp);
        return {
          NatsBatchInfo: {
            stream: records[0]?.event.nats.stream,
            consumer: records[0]?.event.nats.consumer,
            subject: spec.source.nats?.subject,
            startSequence: String(Math.min(...seqs)),
            endSequence: String(Math.max(...seqs)),
            approximateArrivalOfFirstRecord: new Date(Math.min(...times)).toISOString(),
            approximateArrivalOfLastRecord: new Date(Math.max(...times)).toISOString(),
            batchSize: records.length,
            streamArn: arn,
          },
        };
      },
      async backlog() {
        const { source: s } = live();
        const info = await s.jsm.consumers.info(s.stream, s.consumer);
        return { messages: info.num_pending + info.num_ack_pending };
      },
      close: release,
    };
  },
};
