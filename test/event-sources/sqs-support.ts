// Shared parts of the SQS mapping tests: queues on the real ElasticMQ, a recording function whose behaviour
// each message's body chooses, and the sink that sees every batch it was invoked with.

import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { HttpSink } from '../support/http-sink.ts';

export interface Queue {
  url: string;
  arn: string;
}

export async function createQueue(
  sqs: SQSClient,
  name: string,
  options: { visibilitySeconds?: number; deadLetter?: { arn: string; maxReceiveCount: number } } = {},
): Promise<Queue> {
  const fifo = name.endsWith('.fifo');
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(options.visibilitySeconds ?? 2),
        ...(fifo ? { FifoQueue: 'true', ContentBasedDeduplication: 'true' } : {}),
        ...(options.deadLetter
          ? {
              RedrivePolicy: JSON.stringify({
                deadLetterTargetArn: options.deadLetter.arn,
                maxReceiveCount: options.deadLetter.maxReceiveCount,
              }),
            }
          : {}),
      },
    }),
  );
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: QueueUrl!, AttributeNames: ['QueueArn'] }),
  );
  return { url: QueueUrl!, arn: Attributes!.QueueArn! };
}

export async function sendAll(
  sqs: SQSClient,
  queue: Queue,
  entries: Array<Omit<SendMessageBatchRequestEntry, 'Id'>>,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < entries.length; i += 10) {
    const chunk = entries.slice(i, i + 10).map((e, j) => ({ Id: String(j), ...e }));
    const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: chunk }));
    if (result.Failed?.length) throw new Error(`send failed: ${JSON.stringify(result.Failed)}`);
    const byId = new Map((result.Successful ?? []).map((s) => [s.Id, s.MessageId!]));
    for (const e of chunk) ids.push(byId.get(e.Id)!);
  }
  return ids;
}

/** Visible plus in-flight messages of a queue. */
export async function queueDepth(sqs: SQSClient, queue: Queue): Promise<number> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
}

export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 60_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface SqsRecordSeen {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
  messageAttributes: Record<string, { stringValue?: string; binaryValue?: string; dataType: string }>;
  [key: string]: unknown;
}

/** The most invocations of a slow function running at once, replayed from the sink's start and end posts. */
export function maxOverlap(sink: HttpSink, fn: string): number {
  let running = 0;
  let max = 0;
  for (const r of sink.requests) {
    if (r.path === `/${fn}`) max = Math.max(max, ++running);
    else if (r.path === `/${fn}/done`) running--;
  }
  return max;
}

/** Every batch a function was invoked with, as the sink received it. */
export function batchesOf(sink: HttpSink, fn: string): SqsRecordSeen[][] {
  return sink.requests
    .filter((r) => r.path === `/${fn}`)
    .map((r) => (JSON.parse(r.body) as { Records: SqsRecordSeen[] }).Records);
}

export function deliveries(sink: HttpSink, fn: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const batch of batchesOf(sink, fn)) {
    for (const r of batch) counts.set(r.messageId, (counts.get(r.messageId) ?? 0) + 1);
  }
  return counts;
}

/**
 * The recording function: it posts each event to the sink, then does what the first message's body asks:
 * `{"case": …}` picks a partial-batch response (messages with `"fail": true` are the ones it names),
 * `"poison": true` throws, `"sleepMs"` waits first. Redeliveries succeed, so every case ends.
 */
export const RECORDER = `
export const handler = async (event) => {
  await fetch(process.env.SINK + '/' + process.env.AWS_LAMBDA_FUNCTION_NAME, {
    method: 'POST', body: JSON.stringify(event),
  });
  const records = event.Records ?? [];
  const bodies = records.map((r) => { try { return JSON.parse(r.body); } catch { return {}; } });
  const sleep = Math.max(0, ...bodies.map((b) => b.sleepMs ?? 0));
  if (sleep) {
    await new Promise((r) => setTimeout(r, sleep));
    // The end of a slow invocation is posted too, so a test can tell which invocations overlapped.
    await fetch(process.env.SINK + '/' + process.env.AWS_LAMBDA_FUNCTION_NAME + '/done', { method: 'POST', body: '' });
  }
  if (bodies.some((b) => b.poison)) throw new Error('poison message');
  const again = records.some((r) => Number(r.attributes.ApproximateReceiveCount) > 1);
  const failing = records.filter((r, i) => bodies[i].fail);
  switch (again ? 'done' : bodies[0]?.case) {
    case 'partial': return { batchItemFailures: failing.map((r) => ({ itemIdentifier: r.messageId })) };
    case 'empty-list': return { batchItemFailures: [] };
    case 'null-list': return { batchItemFailures: null };
    case 'null-response': return null;
    case 'unknown-id': return { batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] };
    case 'empty-id': return { batchItemFailures: [{ itemIdentifier: '' }] };
    case 'null-id': return { batchItemFailures: [{ itemIdentifier: null }] };
    case 'wrong-key': return { batchItemFailures: [{ itemId: failing[0].messageId }] };
    case 'throw': throw new Error('the whole batch fails');
    default: return { batchItemFailures: [] };
  }
};
`;

export function mappingDoc(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'serval.dev/v1alpha1', kind: 'EventSourceMapping', metadata: { name }, spec };
}

/** The SDK v3 Lambda client, pointed at a test gateway. */
export function lambdaClient(endpoint: string): LambdaClient {
  return new LambdaClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'serval', secretAccessKey: 'serval' },
    maxAttempts: 1,
  });
}
