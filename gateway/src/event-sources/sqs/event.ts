// Lambda's `aws:sqs` record, field for field (reference §10.4), and what filters see of it.
import { textPayloadView } from '../../../../apis/event-filter.ts';
import { lazyFilterView } from '../record-json.ts';
import type { SourceRecord } from '../source-kind.ts';
import type { QueueInfo } from './connection.ts';

export interface SqsEventRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, LambdaMessageAttribute>;
  md5OfBody: string;
  md5OfMessageAttributes?: string;
  eventSource: 'aws:sqs';
  eventSourceARN: string;
  awsRegion: string;
}

interface LambdaMessageAttribute {
  stringValue?: string;
  binaryValue?: string;
  stringListValues: string[];
  binaryListValues: string[];
  dataType: string;
}

/** A message as ReceiveMessage's JSON answer has it (binary values in base64, as Lambda's event wants them). */
export interface WireMessage {
  MessageId?: string;
  ReceiptHandle?: string;
  MD5OfBody?: string;
  Body?: string;
  Attributes?: Record<string, string>;
  MD5OfMessageAttributes?: string;
  MessageAttributes?: Record<string, WireAttributeValue>;
}

interface WireAttributeValue {
  StringValue?: string;
  BinaryValue?: string;
  StringListValues?: string[];
  BinaryListValues?: string[];
  DataType?: string;
}

export interface SqsRecord extends SourceRecord {
  readonly receiptHandle: string;
  readonly event: SqsEventRecord;
  /** `event` as JSON, serialized once. */
  readonly eventJson: string;
}

/** Lambda's order of the system attributes; FIFO queues add the last three. */
const ATTRIBUTE_ORDER = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'SenderId',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageGroupId',
  'MessageDeduplicationId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
];

export function sqsRecord(message: WireMessage, queue: QueueInfo): SqsRecord {
  const system = message.Attributes ?? {};
  const attributes: Record<string, string> = {};
  for (const key of ATTRIBUTE_ORDER) if (system[key] !== undefined) attributes[key] = String(system[key]);
  const messageAttributes: Record<string, LambdaMessageAttribute> = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {}))
    messageAttributes[name] = attribute(value);
  const event: SqsEventRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queue.arn,
    awsRegion: queue.region,
  };
  const sentAt = Number(attributes.SentTimestamp);
  const eventJson = JSON.stringify(event);
  const record = {
    id: event.messageId,
    receiptHandle: event.receiptHandle,
    event,
    eventJson,
    eventBytes: Buffer.byteLength(eventJson),
    traceHeader: attributes.AWSTraceHeader,
    group: attributes.MessageGroupId,
    sentAt: Number.isFinite(sentAt) ? sentAt : undefined,
    deliveryCount: Number(attributes.ApproximateReceiveCount ?? 1),
  };
  return lazyFilterView(record, () => ({ ...event, body: textPayloadView(event.body) }));
}

function attribute(value: WireAttributeValue): LambdaMessageAttribute {
  return {
    ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
    ...(value.BinaryValue !== undefined ? { binaryValue: value.BinaryValue } : {}),
    stringListValues: value.StringListValues ?? [],
    binaryListValues: value.BinaryListValues ?? [],
    dataType: value.DataType ?? 'String',
  };
}
