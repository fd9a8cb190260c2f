// The queue behind asynchronous (`Event`) invocations. An event is accepted only once `enqueue` resolves,
// and it leaves the queue only by `ack` (done), `retry` (replaced by its next attempt) or `deadLetter`.
// Two backends implement it: SQLite (embedded default) and NATS JetStream (several gateway replicas).

export interface AsyncEvent {
  /** The request id the caller got with its 202; every attempt keeps it. */
  requestId: string;
  namespace: string;
  functionName: string;
  qualifier?: string | undefined;
  payload: Buffer;
  traceHeader?: string | undefined;
  /** X-Amz-Tenant-Id of a function in tenant isolation mode: the event runs in that tenant's environments. */
  tenantId?: string | undefined;
  /** Epoch ms when the event was accepted (event age counts from here). */
  acceptedAt: number;
  /** Invocations that reached the function so far (the record's approximateInvokeCount). */
  attempts: number;
  /** Throttles and system errors so far; they drive the backoff, not the retry budget. */
  systemRetries: number;
  /** Epoch ms before which it is not handed out. */
  notBefore: number;
  /** The last attempt's outcome, kept for the failure record and the dead letter. */
  last?: LastAttempt | undefined;
}

export interface LastAttempt {
  /** HTTP status of the attempt as the Invoke API would have answered (200 for function errors). */
  statusCode: number;
  executedVersion?: string | undefined;
  /** `Unhandled` for a function error; absent for throttles and system errors. */
  functionError?: string | undefined;
  errorType: string;
  errorMessage: string;
  /** What the function returned (its error object for function errors), as text. */
  response?: string | undefined;
  /** The trace header the attempt ran with, its hop counted: a function destination carries it on. */
  traceHeader?: string | undefined;
}

/** An event handed to one worker until it is acked, retried or dead-lettered. */
export interface Leased {
  readonly event: AsyncEvent;
}

export type FailureCondition = 'RetriesExhausted' | 'EventAgeExceeded' | 'FunctionNotFound';

export interface DeadLetter {
  /** Backend-specific id, stable until the letter is redriven or purged. */
  id: string;
  event: AsyncEvent;
  condition: FailureCondition;
  failedAt: number;
  /** Why it is here rather than at a destination. */
  reason: string;
}

export interface DeadLetterFilter {
  namespace?: string | undefined;
  functionName?: string | undefined;
  ids?: string[] | undefined;
  limit?: number | undefined;
}

export interface QueueStats {
  backend: 'sqlite' | 'nats';
  /** Events waiting or running. */
  depth: number;
  /** Age of the oldest event still queued, in seconds (0 when empty). */
  oldestEventAgeSeconds: number;
  deadLetters: number;
}

/** The backend cannot take an event right now (e.g. NATS unreachable); the caller may retry. */
export class QueueUnavailableError extends Error {}

export interface EventQueue {
  readonly backend: 'sqlite' | 'nats';
  enqueue(event: AsyncEvent): Promise<void>;
  /**
   * Enqueues unless an event with the same `key` was enqueued before, atomically, so several replicas (or a
   * restarted one) may offer the same event and exactly one copy is kept. Resolves true when this call
   * enqueued it. Keys are remembered for `ONCE_KEY_MEMORY_MS` at least (JetStream: its duplicate window).
   */
  enqueueOnce(event: AsyncEvent, key: string): Promise<boolean>;
  /** The next due event, or undefined when none is due now. */
  take(now: number): Promise<Leased | undefined>;
  /**
   * After `take` found nothing: resolves once an event may be due (one was written, a delayed one comes
   * due), after `maxMs`, or on `signal`. Backends whose `take` waits by itself (JetStream) leave it out.
   */
  waitForWork?(now: number, maxMs: number, signal: AbortSignal): Promise<void>;
  /** Tells the backend the worker is still on it (long invocations outlive a JetStream ack wait). */
  touch(leased: Leased): void;
  ack(leased: Leased): Promise<void>;
  /** Replaces a leased event by its next attempt. */
  retry(leased: Leased, next: AsyncEvent): Promise<void>;
  /** Moves a leased event to the dead letters, where operators can see and redrive it. */
  deadLetter(leased: Leased, letter: Omit<DeadLetter, 'id' | 'event'>, event: AsyncEvent): Promise<void>;
  stats(now: number): Promise<QueueStats>;
  listDeadLetters(filter: DeadLetterFilter): Promise<DeadLetter[]>;
  /** Puts matching dead letters back as fresh events (new age, attempts reset); returns how many. */
  redrive(filter: DeadLetterFilter, now: number): Promise<number>;
  /** Deletes matching dead letters; returns how many. */
  purge(filter: DeadLetterFilter): Promise<number>;
  close(): Promise<void>;
}

/** How long `enqueueOnce` keys are remembered at least: JetStream's default duplicate window. */
export const ONCE_KEY_MEMORY_MS = 120_000;

/** A fresh event for a payload accepted now. */
export function newEvent(
  fields: Pick<
    AsyncEvent,
    'requestId' | 'namespace' | 'functionName' | 'qualifier' | 'payload' | 'traceHeader' | 'tenantId'
  >,
  now: number,
): AsyncEvent {
  return { ...fields, acceptedAt: now, attempts: 0, systemRetries: 0, notBefore: now };
}

/** A redriven dead letter: the same request and payload as a fresh event, its age and attempts reset. */
export function redrivenEvent(event: AsyncEvent, now: number): AsyncEvent {
  const { requestId, namespace, functionName, qualifier, payload, traceHeader, tenantId } = event;
  return newEvent({ requestId, namespace, functionName, qualifier, payload, traceHeader, tenantId }, now);
}

export function matchesFilter(letter: DeadLetter, filter: DeadLetterFilter): boolean {
  if (filter.namespace !== undefined && letter.event.namespace !== filter.namespace) return false;
  if (filter.functionName !== undefined && letter.event.functionName !== filter.functionName) return false;
  if (filter.ids !== undefined && !filter.ids.includes(letter.id)) return false;
  return true;
}
