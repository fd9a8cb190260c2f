// When an invocation finds no idle environment, should it wait for a busy one or start a new one? On
// Lambda every concurrent call gets its own environment. Locally, environments share the machine's cores:
// 64 callers of a 1 ms function started 64 agents and 64 runtimes on two cores, each warming its own JIT,
// and throughput fell to less than half of what eight environments gave. So past a few environments per
// function, a call waits for a busy environment to come free when the recent run times say one will sooner
// than a new one would start (the recent start times), never longer than `maxWaitMs`, and only then starts
// an environment of its own (ADR-36, ADR-43). Concurrency limits are applied before this, per call, so
// throttling and accounting do not change.

export interface WarmWaitOptions {
  /** Environments started for waiting calls at once, before any waiting is considered. */
  eagerEnvironments: number;
  /** The longest a call waits for a busy environment before one is started for it; 0 never waits. */
  maxWaitMs: number;
}

/** Weight of the newest run in the moving average of run times. */
const RUN_WEIGHT = 0.1;
/** Weight of the newest start in the moving average of start times (starts are few; follow them faster). */
const START_WEIGHT = 0.3;

export class WarmWait {
  private readonly options: WarmWaitOptions;
  private averageRunMs: number | undefined;
  private averageStartMs: number | undefined;
  /** Environments that have not run a call yet, with how long they took to be ready. */
  private readonly readyIn = new WeakMap<object, number>();

  constructor(options: WarmWaitOptions) {
    this.options = options;
  }

  /**
   * An invocation held `environment` for `ms`. Its first one includes the runtime's init (environments
   * initialise on demand), which is part of what a start costs, not of a run.
   */
  ran(environment: object, ms: number): void {
    const readyMs = this.readyIn.get(environment);
    if (readyMs !== undefined) {
      this.readyIn.delete(environment);
      this.averageStartMs = average(this.averageStartMs, readyMs + ms, START_WEIGHT);
      return;
    }
    this.averageRunMs = average(this.averageRunMs, ms, RUN_WEIGHT);
  }

  /** `environment` took `ms` from being started to being ready for its first call. */
  ready(environment: object, ms: number): void {
    this.readyIn.set(environment, ms);
  }

  /**
   * How long a call waits at most: no longer than a start takes (a start storm on shared cores costs far
   * more than the wait: at 64 callers of a 1 ms function every start took CPU from the environments that
   * were serving them, ADR-43), and never longer than `maxWaitMs`. Before any start has finished, the
   * ones on their way are ready sooner than a new one would be.
   */
  private boundMs(): number {
    const { maxWaitMs } = this.options;
    return Math.min(maxWaitMs, this.averageStartMs ?? maxWaitMs);
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
    const bound = this.boundMs();
    if (this.averageRunMs === undefined) return bound;
    // Busy environments come free at about busy / averageRun per ms; the calls ahead take them first.
    const expectedMs = (this.averageRunMs * (ahead + 1)) / Math.max(1, pool.busy);
    return expectedMs <= bound ? bound : 0;
  }
}

const average = (current: number | undefined, sample: number, weight: number) =>
  current === undefined ? sample : current + weight * (sample - current);
