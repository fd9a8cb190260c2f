import { describe, expect, it } from 'vitest';
import { LoopScaler } from './loop-scaler.ts';

/**
 * Drives a scaler against a model of the machine: `rateAt(level)` batches per ms. Every ms the loops finish
 * batches at that rate, and every batch comes full. Returns the levels it chose over time.
 */
function drive(rateAt: (level: number) => number, ms: number, max = 1000): number[] {
  const scaler = new LoopScaler(0);
  const levels: number[] = [];
  let owed = 0;
  let level = scaler.target;
  scaler.warmed(0);
  for (let now = 1; now <= ms; now++) {
    owed += rateAt(level);
    while (owed >= 1) {
      owed--;
      scaler.finishedBatch(now);
      const next = scaler.backlogged(now, max);
      if (next > level) scaler.warmed(now); // the new loop's first batch, at once in this model
      level = next;
    }
    levels.push(level);
  }
  return levels;
}

describe('LoopScaler', () => {
  it('adds the first loops without judging, one per 200 ms', () => {
    const levels = drive(() => 0.05, 1_000);
    expect(levels[100]).toBe(1);
    expect(levels[250]).toBe(2);
    expect(Math.max(...levels)).toBe(4);
  });

  it('keeps scaling while each loop adds throughput (a slow, I/O-bound function)', () => {
    const levels = drive((n) => 0.01 * n, 60_000);
    expect(levels.at(-1)).toBeGreaterThanOrEqual(20);
  });

  it('stops near where throughput stops growing (a CPU-bound function), instead of climbing on', () => {
    const levels = drive((n) => 0.2 * Math.min(n, 6), 60_000);
    expect(Math.max(...levels)).toBeLessThanOrEqual(8);
    expect(levels.at(-1)).toBeGreaterThanOrEqual(5);
  });

  it('never goes above max, and comes down to a lower max', () => {
    expect(Math.max(...drive((n) => 0.01 * n, 30_000, 3))).toBe(3);
    const scaler = new LoopScaler(0);
    for (let t = 200; t <= 1_000; t += 200) scaler.backlogged(t, 10);
    expect(scaler.target).toBe(4);
    expect(scaler.backlogged(1_100, 2)).toBe(2);
  });
});
