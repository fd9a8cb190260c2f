// Serval's NATS JetStream event, in the style of Lambda's Kinesis event (docs/event-sources.md): `Records`,
// each with the message under `nats` (data in base64), and the stream sequence as the partial-batch
// itemIdentifier.
import type { JsMsg } from '@nats-io/jetstream';
import { binaryPayloadView } from '../../../../apis/event-filter.ts';
import { lazyFilterView } from '../record-json.ts';
import type { SourceRecord } from '../source-kind.ts';

export interface NatsEventRecord {
  nats: {
    subject: string;
    stream: string;
    consumer: string;
    sequence: number;
    consumerSequence: number;
    deliveryCount: number;
    /** Epoch ms the stream stored the message. */
    timestamp: number;
    headers: Record<string, string[]>;
    data: string;
  };
  eventSource: 'serval:nats';
  eventID: string;
  eventSourceARN: string;
  awsRegion: string;
}

export interface NatsRecord extends SourceRecord {
  readonly msg: JsMsg;
  readonly event: NatsEventRecord;
  /** `event` as JSON, serialized once. */
  readonly eventJson: string;
}

export function natsRecord(msg: JsMsg, arn: string, region: string): NatsRecord {
  const headers: Record<string, string[]> = {};
  if (msg.headers) for (const [k, v] of msg.headers) headers[k] = v;
  const timestamp = Math.floor(Number(msg.info.timestampNanos) / 1_000_000);
  const event: NatsEventRecord = {
    nats: {
      subject: msg.subject,
      stream: msg.info.stream,
      consumer: msg.info.consumer,
      sequence: msg.info.streamSequence,
      consumerSequence: msg.info.deliverySequence,
      deliveryCount: msg.info.deliveryCount,
      timestamp,
      headers,
      data: Buffer.from(msg.data).toString('base64'),
    },
    eventSource: 'serval:nats',
    eventID: `${msg.info.stream}:${msg.info.streamSequence}`,
    eventSourceARN: arn,
    awsRegion: region,
  };
  const eventJson = JSON.stringify(event);
  const record = {
    id: String(msg.info.streamSequence),
    msg,
    event,
    eventJson,
    eventBytes: Buffer.byteLength(eventJson),
    sentAt: timestamp,
    deliveryCount: msg.info.deliveryCount,
  };
  return lazyFilterView(record, () => {
    const { data: _data, ...metadata } = event.nats;
    return { ...metadata, eventSource: event.eventSource, data: binaryPayloadView(msg.data) };
  });
}
