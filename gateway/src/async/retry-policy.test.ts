import { describe, expect, it } from 'vitest';
import { DEFAULT_ASYNC_CONFIG } from '../../../apis/async-config.ts';
import { type AsyncEvent, newEvent } from './event-queue.ts';
import { afterFailure, isExpired } from './retry-policy.ts';

const T0 = 1_000_000;
const last = { statusCode: 200, functionError: 'Unhandled', errorType: 'Error', errorMessage: 'x' };
const throttle = { statusCode: 429, errorType: 'TooManyRequestsException', errorMessage: 'Rate Exceeded.' };

function event(fields: Partial<AsyncEvent> = {}): AsyncEvent {
  const base = newEvent(
    {
      requestId: 'r',
      namespace: 'n',
      functionName: 'f',
      qualifier: undefined,
      payload: Buffer.from('{}'),
      traceHeader: undefined,
    },
    T0,
  );
  return { ...base, ...fields };
}

describe('retry policy', () => {
  it('waits about 1 min before the second attempt and about 2 min before the third, then fails', () => {
    const cfg = DEFAULT_ASYNC_CONFIG;
    const first = afterFailure(event({ attempts: 1 }), { kind: 'function-error', last }, cfg, T0, 1);
    expect(first).toMatchObject({ action: 'retry', next: { notBefore: T0 + 60_000, attempts: 1 } });
    const second = afterFailure(event({ attempts: 2 }), { kind: 'function-error', last }, cfg, T0, 1);
    expect(second).toMatchObject({ action: 'retry', next: { notBefore: T0 + 120_000 } });
    const third = afterFailure(event({ attempts: 3 }), { kind: 'function-error', last }, cfg, T0, 1);
    expect(third).toMatchObject({ action: 'fail', event: { attempts: 3, last } });
  });

  it('honours maximumRetryAttempts 0 and 1', () => {
    for (const [max, failsAfter] of [
      [0, 1],
      [1, 2],
    ] as const) {
      const cfg = { ...DEFAULT_ASYNC_CONFIG, maximumRetryAttempts: max };
      expect(
        afterFailure(event({ attempts: failsAfter }), { kind: 'function-error', last }, cfg, T0, 1).action,
      ).toBe('fail');
      if (failsAfter > 1) {
        expect(
          afterFailure(event({ attempts: failsAfter - 1 }), { kind: 'function-error', last }, cfg, T0, 1)
            .action,
        ).toBe('retry');
      }
    }
  });

  it('backs off throttles from 1 s, doubling, capped at 5 min, without spending attempts', () => {
    const delays = [0, 1, 2, 3, 8, 9, 20].map((systemRetries) => {
      const d = afterFailure(
        event({ systemRetries }),
        { kind: 'throttled', last: throttle },
        DEFAULT_ASYNC_CONFIG,
        T0,
        1,
      );
      if (d.action !== 'retry') throw new Error('expected a retry');
      expect(d.next.attempts).toBe(0);
      expect(d.next.systemRetries).toBe(systemRetries + 1);
      return d.next.notBefore - T0;
    });
    expect(delays).toEqual([1000, 2000, 4000, 8000, 256_000, 300_000, 300_000]);
  });

  it('scales every clock by the time scale', () => {
    const d = afterFailure(
      event({ attempts: 1 }),
      { kind: 'function-error', last },
      DEFAULT_ASYNC_CONFIG,
      T0,
      0.01,
    );
    expect(d).toMatchObject({ next: { notBefore: T0 + 600 } });
    const cfg = { ...DEFAULT_ASYNC_CONFIG, maximumEventAgeSeconds: 60 };
    expect(isExpired(event(), cfg, T0 + 600, 0.01)).toBe(false);
    expect(isExpired(event(), cfg, T0 + 601, 0.01)).toBe(true);
    expect(isExpired(event(), cfg, T0 + 60_000, 1)).toBe(false);
    expect(isExpired(event(), cfg, T0 + 60_001, 1)).toBe(true);
  });
});
