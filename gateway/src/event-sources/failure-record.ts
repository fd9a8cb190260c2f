// Lambda's event source mapping on-failure record (reference §14.1): the invocation's context and result,
// and a per-kind batch info block instead of the records themselves.
import { randomUUID } from 'node:crypto';
import type { BatchOutcome } from './source-kind.ts';

export interface FailureRecordInput {
  functionArn: string;
  condition: string;
  approximateInvokeCount: number;
  outcome: BatchOutcome;
  statusCode: number;
  executedVersion: string | undefined;
  /** `{"<Kind>BatchInfo": {...}}` from the source kind. */
  batchInfo: Record<string, unknown>;
  now: number;
}

export function failureRecord(input: FailureRecordInput): Record<string, unknown> {
  const { outcome } = input;
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: input.functionArn,
      condition: input.condition,
      approximateInvokeCount: input.approximateInvokeCount,
    },
    responseContext: {
      statusCode: input.statusCode,
      executedVersion: input.executedVersion ?? '$LATEST',
      functionError:
        outcome.kind === 'failure' && outcome.reason === 'function_error' ? 'Unhandled' : undefined,
    },
    version: '1.0',
    timestamp: new Date(input.now).toISOString(),
    ...input.batchInfo,
  };
}
