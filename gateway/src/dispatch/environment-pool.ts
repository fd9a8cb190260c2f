// The environments of one function version: hands each invocation to an idle one, starts one when none is
// idle, and reaps those idle too long. `idle` holds free slots: one per idle environment, or for a
// multi-concurrency environment one per invocation it can still take (ADR-42). A provisioned pool
// (`keepWarm`, ADR-41) instead starts its environments ahead of any call, never reaps them, replaces those
// that end, and never starts one for a call: calls take a free slot (`claim`) or go elsewhere.
import type { EnvironmentSpec, InvocationRequest } from '../../../apis/environment-link.ts';
import { type DispatchObserver, dispatchObserver } from '../observability/dispatch-observer.ts';
import type { AgentConnection, InvocationOutput } from '../runtime-link/agent-connection.ts';
import type { ResponseSink } from '../runtime-link/response-sink.ts';
import type { StartEnvironment, StartedEnvironment } from './environment-launcher.ts';
import { WarmWait, type WarmWaitOptions } from './warm-wait.ts';

export class EnvironmentStartError extends Error {
  /** The cluster had no room for the environment: a throttle, not a failure. */
  readonly outOfCapacity: boolean;
  constructor(message: string, outOfCapacity = false) {
    super(message);
    this.outOfCapacity = outOfCapacity;
  }
}

interface Waiter {
  resolve: (conn: AgentConnection) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** When an environment is started for this call if none has come free (performance.now()). */
  startAfter: number;
}

export interface PoolOptions {
  maxEnvironments: number;
  /** Bound on how long an invocation waits for an environment. */
  waitTimeoutMs: number;
  /** Told of environment starts and runs (metrics, spans, the function's trace header). */
  observer?: DispatchObserver | undefined;
  /** Wait briefly for a busy environment before starting another (ADR-36); without it, never wait. */
  warmWait?: WarmWaitOptions | undefined;
  /** Provisioned: this many environments are kept initialised, whatever the calls (ADR-41). */
  keepWarm?: number | undefined;
}

export interface PoolStats {
  idle: number;
  busy: number;
  starting: number;
  waiting: number;
}

export class EnvironmentPool {
  readonly spec: Omit<EnvironmentSpec, 'environmentId'>;
  private readonly start: StartEnvironment;
  private readonly options: PoolOptions;
  private readonly observer: DispatchObserver;
  /** Most recently used last: reuse takes the warmest, reaping takes the coldest. */
  private idle: Array<{ conn: AgentConnection; since: number }> = [];
  /** Invocations an environment takes at once (the spec's maxConcurrency, else 1). */
  private readonly slots: number;
  /** Invocations running, by environment (multi-concurrency: several on one). */
  private readonly running = new Map<AgentConnection, number>();
  private readonly waiters: Waiter[] = [];
  private readonly environments = new Map<string, StartedEnvironment>();
  private starting = 0;
  private busy = 0;

  private retired = false;
  private keepWarm: number | undefined;
  /** Environments that became ready and have not ended. */
  private ready = 0;
  /** Why a provisioned environment failed to start; no more are started then (its init would fail again). */
  private failure: string | undefined;
  private readonly warmWait: WarmWait | undefined;
  /** Starts environments for the waiters whose grace runs out next. */
  private deferredScaleUp: NodeJS.Timeout | undefined;
  private deferredAt = Number.POSITIVE_INFINITY;

  constructor(spec: Omit<EnvironmentSpec, 'environmentId'>, start: StartEnvironment, options: PoolOptions) {
    this.spec = spec;
    this.start = start;
    this.options = options;
    this.observer = options.observer ?? dispatchObserver(undefined);
    this.warmWait = options.warmWait && new WarmWait(options.warmWait);
    this.slots = spec.maxConcurrency ?? 1;
    this.keepWarm = options.keepWarm;
    this.fill();
  }

  /** A provisioned pool: environments ready (idle or busy) and why starting one failed, if it did. */
  allocation(): { allocated: number; busy: number; failure: string | undefined } {
    return { allocated: this.ready, busy: this.busy, failure: this.failure };
  }

  /** A provisioned pool's new size: more start now (a failure is tried again), idle ones beyond it end. */
  resize(keepWarm: number): void {
    this.keepWarm = keepWarm;
    this.failure = undefined;
    const idle = [...new Set(this.idle.map((e) => e.conn))].filter((c) => !this.running.has(c));
    while (this.environments.size > keepWarm && idle.length > 0) {
      const conn = idle.shift()!;
      this.idle = this.idle.filter((e) => e.conn !== conn);
      this.stopEnvironment(conn.environmentId, 'provisioned concurrency reduced');
    }
    this.fill();
  }

  /** A free slot for a call, or none: the call then runs elsewhere (provisioned spill-over). */
  claim(): AgentConnection | undefined {
    return this.idle.pop()?.conn;
  }

  /** Hands back a claimed environment that ran nothing. */
  unclaim(conn: AgentConnection): void {
    this.release(conn);
  }

  /** Environments by state: one running any invocation is busy, even with slots to spare. */
  stats(): PoolStats {
    const idle = new Set(this.idle.map((e) => e.conn).filter((c) => !this.running.has(c))).size;
    return { idle, busy: this.running.size, starting: this.starting, waiting: this.waiters.length };
  }

  /** Runs an invocation on `claimed` if given (see claim), else on the next environment free. */
  async invoke(
    invocation: InvocationRequest,
    body: Buffer,
    sink?: ResponseSink,
    claimed?: AgentConnection,
  ): Promise<InvocationOutput> {
    const conn = claimed ?? (await this.acquire());
    this.busy++;
    this.running.set(conn, (this.running.get(conn) ?? 0) + 1);
    const began = performance.now();
    try {
      return await this.observer.runtime(invocation, conn.environmentId, (traced) =>
        conn.invoke(traced, body, sink),
      );
    } finally {
      this.busy--;
      const left = (this.running.get(conn) ?? 1) - 1;
      if (left > 0) this.running.set(conn, left);
      else this.running.delete(conn);
      this.warmWait?.ran(conn, performance.now() - began);
      this.release(conn);
    }
  }

  /** Ends environments idle since before `now - ttlMs`: none of their slots used since, none running. */
  reap(now: number, ttlMs: number): void {
    if (this.keepWarm !== undefined && !this.retired) return;
    const fresh = new Set<AgentConnection>();
    for (const e of this.idle) if (now - e.since < ttlMs || this.running.has(e.conn)) fresh.add(e.conn);
    const stale = new Set(this.idle.filter((e) => !fresh.has(e.conn)).map((e) => e.conn));
    if (stale.size === 0) return;
    this.idle = this.idle.filter((e) => fresh.has(e.conn));
    for (const conn of stale) this.stopEnvironment(conn.environmentId, 'idle timeout');
  }

  close(): void {
    this.retired = true;
    clearTimeout(this.deferredScaleUp);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new EnvironmentStartError('the gateway is shutting down'));
    }
    for (const id of [...this.environments.keys()]) this.stopEnvironment(id, 'gateway shutdown');
    this.idle = [];
  }

  private acquire(): Promise<AgentConnection> {
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm.conn);
    const grace =
      this.warmWait?.graceMs(
        { environments: this.environments.size, busy: this.busy, starting: this.starting },
        this.waiters.length,
      ) ?? 0;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        startAfter: performance.now() + grace,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.removeWaiter(waiter);
          reject(
            new EnvironmentStartError(
              `no execution environment became available within ${this.options.waitTimeoutMs / 1000} s`,
            ),
          );
        }, this.options.waitTimeoutMs),
      };
      this.waiters.push(waiter);
      this.scaleUp();
    });
  }

  /**
   * The function changed under this pool (new code or configuration for the same version name): idle
   * environments end now, busy ones when their invocation ends. Waiters, if any, still get served.
   */
  retire(): void {
    this.retired = true;
    this.reap(Number.POSITIVE_INFINITY, 0);
  }

  private release(conn: AgentConnection): void {
    if (conn.closed) return;
    if (this.retired && this.waiters.length === 0) {
      // A multi-concurrency environment ends with the last invocation it runs.
      if (!this.running.has(conn)) this.stopEnvironment(conn.environmentId, 'function changed');
      return;
    }
    if (this.keepWarm !== undefined && this.environments.size > this.keepWarm) {
      this.stopEnvironment(conn.environmentId, 'provisioned concurrency reduced');
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(conn);
    } else {
      this.idle.push({ conn, since: Date.now() });
    }
  }

  /** A provisioned pool starts environments until it has its `keepWarm`, unless one failed to start. */
  private fill(): void {
    const target = this.keepWarm;
    if (target === undefined) return;
    while (!this.retired && this.failure === undefined && this.environments.size < target) this.startOne();
  }

  /** Starts environments until every waiter past its grace has one coming, within the cap. */
  private scaleUp(): void {
    const now = performance.now();
    let due = 0;
    let nextDue = Number.POSITIVE_INFINITY;
    for (const w of this.waiters) {
      if (w.startAfter <= now) due++;
      else nextDue = Math.min(nextDue, w.startAfter);
    }
    if (nextDue < this.deferredAt) {
      clearTimeout(this.deferredScaleUp);
      this.deferredAt = nextDue;
      this.deferredScaleUp = setTimeout(() => {
        this.deferredAt = Number.POSITIVE_INFINITY;
        this.scaleUp();
      }, nextDue - now);
      this.deferredScaleUp.unref();
    }
    // Each environment on its way takes `slots` of the waiters.
    while (this.starting * this.slots < due && this.environments.size < this.options.maxEnvironments)
      this.startOne();
  }

  private startOne(): void {
    this.starting++;
    const startedAt = performance.now();
    const started = this.start(this.spec);
    const startEnded = this.observer.environmentStarting(this.spec, started.environmentId);
    this.environments.set(started.environmentId, started);
    void started.launched.exited.then(() => this.environments.delete(started.environmentId));
    started.connection.then(
      (conn) => {
        let ready = false;
        conn.onClose(() => {
          this.forget(conn);
          if (ready) {
            this.ready--;
            this.fill(); // a provisioned environment that died is replaced
            return;
          }
          const reason = conn.closeReason ?? 'the environment ended before it was ready';
          startEnded('failed', reason);
          this.startFailed(reason);
        });
        conn.onReady(() => {
          ready = true;
          this.ready++;
          startEnded('ready');
          this.warmWait?.ready(conn, performance.now() - startedAt);
          this.starting--;
          for (let slot = 0; slot < this.slots && !conn.closed; slot++) this.release(conn);
        });
      },
      (err: Error) => {
        this.environments.delete(started.environmentId);
        startEnded('failed', err.message);
        this.startFailed(err.message, started.launched.outOfCapacity?.() === true);
      },
    );
  }

  /** The oldest waiters (as many as the environment would have taken) learn why, rather than waiting out their bound. */
  private startFailed(reason: string, outOfCapacity = false): void {
    this.starting--;
    if (this.keepWarm !== undefined) this.failure = reason;
    for (const waiter of this.waiters.splice(0, this.slots)) {
      clearTimeout(waiter.timer);
      waiter.reject(new EnvironmentStartError(reason, outOfCapacity));
    }
  }

  private forget(conn: AgentConnection): void {
    this.idle = this.idle.filter((e) => e.conn !== conn);
    this.running.delete(conn);
    this.stopEnvironment(conn.environmentId, 'link closed');
  }

  private stopEnvironment(environmentId: string, reason: string): void {
    const env = this.environments.get(environmentId);
    this.environments.delete(environmentId);
    env?.connection.then(
      (c) => c.shutdown(reason),
      () => {},
    );
    env?.launched.stop();
  }

  private removeWaiter(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}
