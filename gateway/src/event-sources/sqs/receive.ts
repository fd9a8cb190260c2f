// One ReceiveMessage call: at most 10 messages, long-polling whole seconds, with every system and message
// attribute Lambda's event carries.
import { pause } from '../backoff.ts';
import type { QueueInfo } from './connection.ts';
import { type SqsRecord, sqsRecord, type WireMessage } from './event.ts';
import type { SqsApi } from './sqs-api.ts';

/** SQS's own limits: 10 messages per call, 20 s of long polling. */
export const SQS_MAX_PER_RECEIVE = 10;
const SQS_MAX_WAIT_SECONDS = 20;
const SHORT_POLL_PAUSE_MS = 50;

export async function receiveSqs(
  api: SqsApi,
  queue: QueueInfo,
  max: number,
  waitMs: number,
  signal: AbortSignal,
): Promise<SqsRecord[]> {
  // Long polls last whole seconds; never past the caller's wait (a batching window ending).
  const waitSeconds = Math.min(SQS_MAX_WAIT_SECONDS, Math.floor(waitMs / 1000));
  const result = await api.call<{ Messages?: WireMessage[] }>(
    'ReceiveMessage',
    {
      QueueUrl: queue.url,
      MaxNumberOfMessages: Math.max(1, Math.min(SQS_MAX_PER_RECEIVE, max)),
      WaitTimeSeconds: waitSeconds,
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    },
    signal,
  );
  const messages = result.Messages ?? [];
  // An empty short poll inside a window would otherwise spin until the window ends.
  if (messages.length === 0 && waitSeconds === 0 && waitMs > 0)
    await pause(Math.min(waitMs, SHORT_POLL_PAUSE_MS), signal);
  return messages.map((m) => sqsRecord(m, queue));
}
