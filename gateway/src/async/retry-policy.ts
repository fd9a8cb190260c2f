// What happens to an event after an attempt, as Lambda does it (reference §7.1). Pure: the worker feeds it
// the clock and the outcome.
import type { AsyncConfig } from '../../../apis/async-config.ts';
import type { AsyncEvent, LastAttempt } from './event-queue.ts';

/** Lambda waits about a minute before the second attempt and about two before the third. */
export const FUNCTION_ERROR_DELAYS_MS = [60_000, 120_000];
export const BACKOFF_START_MS = 1000;
export const BACKOFF_MAX_MS = 5 * 60_000;

export type AttemptOutcome =
  /** The function ran and failed (handler error, runtime exit, timeout): spends a retry. */
  | { kind: 'function-error'; last: LastAttempt }
  /** Throttled or the platform failed before the function ran: back off, spend no retry. */
  | { kind: 'throttled' | 'system-error'; last: LastAttempt };

export type Decision = { action: 'retry'; next: AsyncEvent } | { action: 'fail'; event: AsyncEvent };

/** Whether the event is too old to run again; checked before every attempt. */
export function isExpired(event: AsyncEvent, config: AsyncConfig, now: number, timeScale: number): boolean {
  return now - event.acceptedAt > config.maximumEventAgeSeconds * 1000 * timeScale;
}

export function afterFailure(
  event: AsyncEvent,
  outcome: AttemptOutcome,
  config: AsyncConfig,
  now: number,
  timeScale: number,
): Decision {
  if (outcome.kind === 'function-error') {
    // `event.attempts` already counts the attempt that just failed.
    if (event.attempts > config.maximumRetryAttempts) {
      return { action: 'fail', event: { ...event, last: outcome.last } };
    }
    const delay = FUNCTION_ERROR_DELAYS_MS[Math.min(event.attempts - 1, 1)]! * timeScale;
    return { action: 'retry', next: { ...event, last: outcome.last, notBefore: now + delay } };
  }
  const systemRetries = event.systemRetries + 1;
  const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * 2 ** Math.min(systemRetries - 1, 30)) * timeScale;
  return { action: 'retry', next: { ...event, systemRetries, last: outcome.last, notBefore: now + delay } };
}
