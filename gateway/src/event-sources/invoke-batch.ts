// Invokes a function with one batch through the gateway's Invoker — the same admission, metrics and traces
// as every other caller — and turns the result into a BatchOutcome. A throttled batch is never failed: it
// waits (keeping its records leased) and is tried again, so it is not lost and never takes a unit from a
// synchronous caller by queueing for it.
import { ApiError } from '../../../apis/errors.ts';
import type { Invoker } from '../invocation/invoker.ts';
import { Backoff, pause } from './backoff.ts';
import { readBatchResponse } from './batch-response.ts';
import type { BatchOutcome, SourcePoller, SourceRecord } from './source-kind.ts';

export interface BatchCall<R extends SourceRecord> {
  invoker: Invoker;
  namespace: string;
  functionName: string;
  qualifier: string | undefined;
  reportBatchItemFailures: boolean;
  poller: SourcePoller<R>;
  /** X-Amzn-Trace-Id naming the batch's span, so the invocation joins its trace. */
  traceHeader: string | undefined;
  signal: AbortSignal;
  onThrottle: () => void;
}

/** The batch's outcome plus what ran, or `stopped` when the mapping stopped while it waited. */
export type BatchResult<R extends SourceRecord> =
  | { outcome: BatchOutcome<R>; requestId?: string; executedVersion?: string; statusCode: number }
  | 'stopped';

const THROTTLE_BACKOFF = { baseMs: 50, maxMs: 5_000 };
/** How often a waiting batch renews its records' lease. */
const LEASE_RENEW_MS = 10_000;

export async function invokeBatch<R extends SourceRecord>(
  call: BatchCall<R>,
  records: readonly R[],
): Promise<BatchResult<R>> {
  const payload =
    call.poller.eventPayload?.(records) ?? Buffer.from(JSON.stringify(call.poller.buildEvent(records)));
  const backoff = new Backoff(THROTTLE_BACKOFF.baseMs, THROTTLE_BACKOFF.maxMs);
  let leaseRenewedAt = Date.now();
  for (;;) {
    if (call.signal.aborted) return 'stopped';
    try {
      const target = call.invoker.resolve(call.namespace, call.functionName, call.qualifier);
      const result = await call.invoker.invoke(target, payload, { traceHeader: call.traceHeader });
      const base = { requestId: result.requestId, executedVersion: result.executedVersion, statusCode: 200 };
      if (result.result.outcome === 'error') {
        const errorType = result.result.errorType ?? 'Unhandled';
        return {
          ...base,
          outcome: {
            kind: 'failure',
            reason: 'function_error',
            errorType,
            message: errorMessage(result.body),
          },
        };
      }
      if (!call.reportBatchItemFailures) return { ...base, outcome: { kind: 'success' } };
      return { ...base, outcome: readBatchResponse(result.body, records) };
    } catch (err) {
      if (err instanceof ApiError && err.type === 'TooManyRequestsException') {
        call.onThrottle();
        if (call.poller.extendLease && Date.now() - leaseRenewedAt > LEASE_RENEW_MS) {
          leaseRenewedAt = Date.now();
          await call.poller.extendLease(records).catch(() => undefined);
        }
        await pause(backoff.next(), call.signal);
        continue;
      }
      const apiError = err instanceof ApiError ? err : undefined;
      return {
        statusCode: apiError?.status ?? 500,
        outcome: {
          kind: 'failure',
          reason: 'platform_error',
          errorType: apiError?.type ?? 'ServiceException',
          message: err instanceof Error ? err.message : String(err),
        },
      };
    }
  }
}

function errorMessage(body: Buffer): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // not JSON: the raw text is the message
  }
  return body.toString('utf8').slice(0, 256);
}
