// How many poll loops a mapping runs while its backlog lasts. Lambda adds pollers as long as batches come
// full, each on capacity of its own; here every loop shares the gateway's machine, and one more loop helps
// only while it raises throughput: a fast function saturates the cores at a few loops, and each loop past
// that adds an environment process that slows the others. So a loop added is kept only when the batches
// finished per second rose by at least half of what one more loop would add if loops scaled linearly
// (hill climbing); otherwise it is taken back and the next try waits a while, since load changes. The first
// few loops come without judging, at Lambda's pace. Slow functions (I/O-bound, as most are) keep scaling
// to maximumConcurrency this way.

export interface LoopScalerOptions {
  /** At most one change this often. */
  minIntervalMs: number;
  /** A level is judged after this long, counted from its newest loop's first finished batch ... */
  judgeMs: number;
  /** ... and at least this many finished batches per loop. */
  batchesPerLoop: number;
  /** After a loop did not help, the next try waits this long. */
  retryAfterMs: number;
  /** Loops added without judging (one per minIntervalMs), as any machine has room for a few. */
  freeLevels: number;
}

const DEFAULTS: LoopScalerOptions = {
  minIntervalMs: 200,
  judgeMs: 1_000,
  batchesPerLoop: 4,
  retryAfterMs: 5_000,
  freeLevels: 4,
};

export class LoopScaler {
  private readonly options: LoopScalerOptions;
  private level = 1;
  /** The measurement window of the current level: from when its newest loop finished a first batch. */
  private windowStart: number | undefined;
  private finished = 0;
  private lastFinish = 0;
  private changedAt: number;
  /** Batches per ms at the level below, to judge the current one against. */
  private below: number | undefined;
  private holdUntil = 0;

  constructor(now: number, options: Partial<LoopScalerOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.changedAt = now;
  }

  /** How many loops should run. */
  get target(): number {
    return this.level;
  }

  /** A loop finished its first batch: the level's measurement starts now, past the loop's cold start. */
  warmed(now: number): void {
    this.windowStart = now;
    this.finished = 0;
  }

  /** A loop finished a batch. */
  finishedBatch(now: number): void {
    this.finished++;
    this.lastFinish = now;
  }

  /**
   * A full batch came, so more is waiting: may raise the level by one, or lower it by one when the last
   * raise did not pay. Returns the new target (never above `max`).
   */
  backlogged(now: number, max: number): number {
    const o = this.options;
    if (this.level > max) return this.change(max, now, undefined);
    if (now - this.changedAt < o.minIntervalMs) return this.level;
    if (this.level < Math.min(o.freeLevels, max)) return this.change(this.level + 1, now, undefined);
    const rate = this.rate(now);
    if (rate === undefined) return this.level;
    if (this.below !== undefined && this.level > 1) {
      // Linear scaling would add below / (level - 1); keep the loop if it brought at least half of that.
      const expected = this.below / (this.level - 1);
      if (rate - this.below < expected / 2) {
        this.holdUntil = now + o.retryAfterMs;
        return this.change(this.level - 1, now, undefined);
      }
    }
    if (now < this.holdUntil || this.level >= max) {
      // Keep measuring, so the next try is judged against a fresh rate.
      this.below = undefined;
      this.warmed(now);
      return this.level;
    }
    return this.change(this.level + 1, now, rate);
  }

  /** Batches per ms at the current level, once it has been measured long enough. */
  private rate(now: number): number | undefined {
    const o = this.options;
    if (this.windowStart === undefined) {
      // The new loop never finished a batch (it found the source idle): measure what runs.
      if (now - this.changedAt > 5 * o.judgeMs) this.warmed(now);
      return undefined;
    }
    const elapsed = this.lastFinish - this.windowStart;
    if (now - this.windowStart < o.judgeMs || this.finished < o.batchesPerLoop * this.level) return undefined;
    return elapsed > 0 ? this.finished / elapsed : undefined;
  }

  private change(level: number, now: number, below: number | undefined): number {
    const raised = level > this.level;
    this.level = Math.max(1, level);
    this.changedAt = now;
    this.below = below;
    this.finished = 0;
    // A raise is measured once the new loop is warm (warmed); the loops left after a cut already are.
    this.windowStart = raised ? undefined : now;
    return this.level;
  }
}
