// When an invocation finds no idle environment, should it wait for a busy one or start a new one? On
// Lambda every concurrent call gets its own environment. Locally, environments share the machine's cores:
// 64 callers of a 1 ms function started 64 agents and 64 runtimes on two cores, each warming its own JIT,
// and throughput fell to less than half of what eight environments gave. So past a few environments per
// function, a call waits up to `maxWaitMs` for a busy environment to come free when the recent run times
// say one will, and only then starts an environment of its own (ADR-36). Concurrency limits are applied
// before this, per call, so throttling and accounting do not change.

export interface WarmWaitOptions {
  /** Environments started for waiting calls at once, before any waiting is considered. */
  eagerEnvironments: number;
  /** The longest a call waits for a busy environment before one is started for it; 0 never waits. */
  maxWaitMs: number;
}

/** Weight of the newest run in the moving average of run times. */
const RUN_WEIGHT = 0.1;

export class WarmWait {
  private readonly options: WarmWaitOptions;
  private averageRunMs: number | undefined;

  constructor(options: WarmWaitOptions) {
    this.options = options;
  }

  /** An invocation held an environment for `ms`. */
  ran(ms: number): void {
    this.averageRunMs =
      this.averageRunMs === undefined ? ms : this.averageRunMs + RUN_WEIGHT * (ms - this.averageRunMs);
  }

  /**
   * How long the call `ahead` places back in the queue should wait for an environment already there
   * (`environments`, of which `busy` run an invocation and `starting` are on their way) before one is
   * started for it; 0 to start one at once.
   */
  graceMs(pool: { environments: number; busy: number; starting: number }, ahead: number): number {
    const { eagerEnvironments, maxWaitMs } = this.options;
    if (maxWaitMs <= 0 || pool.environments < eagerEnvironments) return 0;
    // Environments that will come free, or ready, soon.
    if (pool.busy + pool.starting === 0) return 0;
    // Nothing has run yet (a burst on cold environments): wait for the ones on their way, briefly.
    if (this.averageRunMs === undefined) return maxWaitMs;
    // Busy environments come free at about busy / averageRun per ms; the calls ahead take them first.
    const expectedMs = (this.averageRunMs * (ahead + 1)) / Math.max(1, pool.busy);
    return expectedMs <= maxWaitMs ? maxWaitMs : 0;
  }
}
