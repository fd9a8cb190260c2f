// Accepting an `Event` invocation: check its size, persist it, and only then answer. Shared by the Invoke
// API (`X-Amz-Invocation-Type: Event`) and the InvokeAsync route that webhooks can POST to.
import { randomUUID } from 'node:crypto';
import { ApiError } from '../../../apis/errors.ts';
import type { InvokeTarget } from '../invocation/invoker.ts';
import { type EventQueue, newEvent, QueueUnavailableError } from './event-queue.ts';

/** Lambda's asynchronous payload limit (reference §1.6): 1 MB since October 2025. */
export const ASYNC_PAYLOAD_LIMIT = 1024 * 1024;

/** Returns the request id the caller gets with its 202; the event is on disk (or in JetStream) by then. */
export async function acceptEvent(
  queue: EventQueue,
  target: InvokeTarget,
  payload: Buffer,
  traceHeader: string | undefined,
  tenantId?: string | undefined,
): Promise<string> {
  if (payload.length > ASYNC_PAYLOAD_LIMIT) {
    throw new ApiError(
      'RequestTooLargeException',
      `Request must be smaller than ${ASYNC_PAYLOAD_LIMIT} bytes for the InvokeAsync operation`,
    );
  }
  const requestId = randomUUID();
  const fields = {
    requestId,
    namespace: target.fn.namespace,
    functionName: target.fn.name,
    qualifier: target.qualifier,
    payload,
    traceHeader,
    tenantId,
  };
  try {
    await queue.enqueue(newEvent(fields, Date.now()));
  } catch (err) {
    if (!(err instanceof QueueUnavailableError)) throw err;
    // Retriable, and said at once: the caller's SDK backs off and tries again (docs/hardening.md).
    throw new ApiError('ServiceUnavailable', 'The event queue is unavailable; retry the request', {
      headers: { 'Retry-After': '1' },
    });
  }
  return requestId;
}
