// Settles SQS messages as Lambda does: delete what succeeded or was filtered (in batches of 10); leave what
// failed alone, so it reappears after the visibility timeout and the queue's redrive policy counts it.
import type { BatchOutcome } from '../source-kind.ts';
import type { QueueInfo } from './connection.ts';
import type { SqsRecord } from './event.ts';
import type { SqsApi } from './sqs-api.ts';

interface BatchResult {
  Failed?: Array<{ Id?: string; Code?: string; Message?: string }>;
}

const ENTRIES_PER_CALL = 10;

export async function settleSqs(
  api: SqsApi,
  queue: QueueInfo,
  records: readonly SqsRecord[],
  outcome: BatchOutcome<SqsRecord>,
): Promise<void> {
  if (outcome.kind === 'failure') return;
  const failed = new Set(outcome.kind === 'partial' ? outcome.failed.map((r) => r.id) : []);
  const done = records.filter((r) => !failed.has(r.id));
  await forChunks(done, async (chunk) => {
    const result = await api.call<BatchResult>('DeleteMessageBatch', {
      QueueUrl: queue.url,
      Entries: chunk.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
    });
    if (result.Failed && result.Failed.length > 0) {
      throw new Error(
        `could not delete ${result.Failed.length} message(s): ${result.Failed[0]?.Message ?? ''}`,
      );
    }
  });
}

/** Keeps a throttled batch's messages invisible for another visibility timeout while it waits. */
export async function extendSqs(api: SqsApi, queue: QueueInfo, records: readonly SqsRecord[]): Promise<void> {
  await forChunks(records, (chunk) =>
    api.call<BatchResult>('ChangeMessageVisibilityBatch', {
      QueueUrl: queue.url,
      Entries: chunk.map((r, i) => ({
        Id: String(i),
        ReceiptHandle: r.receiptHandle,
        VisibilityTimeout: queue.visibilityTimeoutSeconds,
      })),
    }),
  );
}

async function forChunks<T>(items: readonly T[], fn: (chunk: T[]) => Promise<unknown>): Promise<void> {
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < items.length; i += ENTRIES_PER_CALL)
    calls.push(fn(items.slice(i, i + ENTRIES_PER_CALL)));
  await Promise.all(calls);
}
