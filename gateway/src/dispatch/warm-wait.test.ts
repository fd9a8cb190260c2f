// The wait policy alone (ADR-36, ADR-43): whether a call waits for a busy environment or gets one started.
import { describe, expect, it } from 'vitest';
import { WarmWait } from './warm-wait.ts';

const pool = (busy: number) => ({ environments: busy, busy, starting: 0 });
/** An environment that has run before: its runs count as runs. */
const env = {};
/** A new environment ready after `readyMs` whose first call (its init) took the rest of `ms`. */
function started(wait: WarmWait, ms: number, readyMs = ms / 2) {
  const fresh = {};
  wait.ready(fresh, readyMs);
  wait.ran(fresh, ms - readyMs);
}

/** A policy that has seen one start of `startMs` and one run of `runMs`. */
function seen(eagerEnvironments: number, maxWaitMs: number, startMs: number, runMs: number) {
  const wait = new WarmWait({ eagerEnvironments, maxWaitMs });
  started(wait, startMs);
  wait.ran(env, runMs);
  return wait;
}

describe('WarmWait', () => {
  it('waits while a busy environment is expected sooner than a start, up to the ceiling', () => {
    const wait = seen(8, 1000, 700, 15);
    // 56 calls ahead of 8 busy environments of 15 ms: about 105 ms, shorter than a 700 ms start.
    expect(wait.graceMs(pool(8), 55)).toBe(700);
    // ADR-36's fixed 100 ms bound started an environment for this call: the start storm at 64 callers.
    const fixed = seen(8, 100, 700, 15);
    expect(fixed.graceMs(pool(8), 55)).toBe(0);
  });

  it('starts at once when a start is quicker than the expected wait', () => {
    const wait = seen(2, 60_000, 200, 3000);
    // 3000 ms × 2 / 2 busy = 3 s for a busy one, against 200 ms for a new one.
    expect(wait.graceMs(pool(2), 1)).toBe(0);
  });

  it('follows the start times it sees', () => {
    const wait = new WarmWait({ eagerEnvironments: 2, maxWaitMs: 60_000 });
    wait.ran(env, 400);
    started(wait, 5000);
    expect(wait.graceMs(pool(2), 3)).toBe(5000); // 800 ms expected
    for (let i = 0; i < 20; i++) started(wait, 300);
    expect(wait.graceMs(pool(2), 3)).toBe(0);
  });

  it('counts a first call, which initialises the runtime, as part of the start', () => {
    const wait = new WarmWait({ eagerEnvironments: 2, maxWaitMs: 60_000 });
    const fresh = {};
    wait.ready(fresh, 100);
    wait.ran(fresh, 5000); // init
    wait.ran(env, 50);
    expect(wait.graceMs(pool(2), 3)).toBe(5100);
  });

  it('waits for environments already starting before any start has finished', () => {
    const wait = new WarmWait({ eagerEnvironments: 2, maxWaitMs: 1000 });
    expect(wait.graceMs({ environments: 2, busy: 0, starting: 2 }, 5)).toBe(1000);
  });

  it('never waits below the eager environments, or when waiting is off', () => {
    expect(seen(8, 1000, 700, 1).graceMs(pool(7), 0)).toBe(0);
    expect(seen(1, 0, 700, 1).graceMs(pool(4), 0)).toBe(0);
  });
});
