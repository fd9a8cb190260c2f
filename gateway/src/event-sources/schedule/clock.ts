// The scheduler's sense of time, injected: the system clock in production, a scaled one in tests and the
// benchmark (a `rate(1 minute)` schedule ticking every second of real time at scale 60).

export interface Clock {
  now(): number;
  /** Resolves after `ms` of this clock's time, or at once when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

function realSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
  });
}

export const SYSTEM_CLOCK: Clock = { now: () => Date.now(), sleep: realSleep };

/**
 * A clock that runs `scale` times faster than real time from `origin` (epoch ms, where both clocks agree).
 * Replicas given the same origin and scale agree on the time, as real replicas do through NTP.
 */
export function scaledClock(scale: number, origin: number): Clock {
  return {
    now: () => origin + (Date.now() - origin) * scale,
    sleep: (ms, signal) => realSleep(ms / scale, signal),
  };
}
