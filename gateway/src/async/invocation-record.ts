// The record destinations receive (reference §7.3), field for field.
import type { AsyncEvent } from './event-queue.ts';

export type RecordCondition = 'Success' | 'RetriesExhausted' | 'EventAgeExceeded';

export interface InvocationRecord {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: RecordCondition;
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: number; executedVersion?: string; functionError?: string };
  responsePayload?: unknown;
}

/**
 * `functionArn` is the qualified ARN the event was sent to (`:$LATEST` when unqualified); `event.last` is the
 * final attempt's outcome (or the success itself).
 */
export function invocationRecord(
  event: AsyncEvent,
  condition: RecordCondition,
  unqualifiedArn: string,
  now: number,
): InvocationRecord {
  const last = event.last;
  const responseContext: InvocationRecord['responseContext'] = { statusCode: last?.statusCode ?? 200 };
  if (last?.executedVersion !== undefined) responseContext.executedVersion = last.executedVersion;
  if (last?.functionError !== undefined) responseContext.functionError = last.functionError;
  const record: InvocationRecord = {
    version: '1.0',
    timestamp: new Date(now).toISOString(),
    requestContext: {
      requestId: event.requestId,
      functionArn: `${unqualifiedArn}:${event.qualifier ?? '$LATEST'}`,
      condition,
      approximateInvokeCount: event.attempts,
    },
    requestPayload: parseJson(event.payload.toString('utf8')),
    responseContext,
  };
  if (last?.response !== undefined) record.responsePayload = parseJson(last.response);
  else if (condition !== 'Success' && last) {
    // Never invoked (throttled until too old): say why, in the shape of an Invoke API error.
    record.responsePayload = { errorType: last.errorType, errorMessage: last.errorMessage };
  }
  return record;
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
