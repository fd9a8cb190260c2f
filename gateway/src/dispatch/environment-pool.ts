// The environments of one function version: hands each invocation to an idle one, starts one when none is
// idle, and reaps those idle too long. An environment is idle exactly while it sits in `idle`.
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
  private readonly waiters: Waiter[] = [];
  private readonly environments = new Map<string, StartedEnvironment>();
  private starting = 0;
  private busy = 0;

  private retired = false;
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
  }

  stats(): PoolStats {
    return { idle: this.idle.length, busy: this.busy, starting: this.starting, waiting: this.waiters.length };
  }

  async invoke(invocation: InvocationRequest, body: Buffer, sink?: ResponseSink): Promise<InvocationOutput> {
    const conn = await this.acquire();
    this.busy++;
    const began = performance.now();
    try {
      return await this.observer.runtime(invocation, conn.environmentId, (traced) =>
        conn.invoke(traced, body, sink),
      );
    } finally {
      this.busy--;
      this.warmWait?.ran(conn, performance.now() - began);
      this.release(conn);
    }
  }

  /** Ends environments idle since before `now - ttlMs`. */
  reap(now: number, ttlMs: number): void {
    const stale = this.idle.filter((e) => now - e.since >= ttlMs);
    if (stale.length === 0) return;
    this.idle = this.idle.filter((e) => now - e.since < ttlMs);
    for (const { conn } of stale) this.stopEnvironment(conn.environmentId, 'idle timeout');
  }

  close(): void {
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
      this.stopEnvironment(conn.environmentId, 'function changed');
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
    while (this.starting < due && this.environments.size < this.options.maxEnvironments) {
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
            if (ready) return;
            startEnded('failed', 'the environment ended before it was ready');
            this.startFailed('the environment ended before it was ready');
          });
          conn.onReady(() => {
            ready = true;
            startEnded('ready');
            this.warmWait?.ready(conn, performance.now() - startedAt);
            this.starting--;
            this.release(conn);
          });
        },
        (err: Error) => {
          this.environments.delete(started.environmentId);
          startEnded('failed', err.message);
          this.startFailed(err.message, started.launched.outOfCapacity?.() === true);
        },
      );
    }
  }

  /** The oldest waiter caused this start; it learns why rather than waiting out its bound. */
  private startFailed(reason: string, outOfCapacity = false): void {
    this.starting--;
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.reject(new EnvironmentStartError(reason, outOfCapacity));
    }
  }

  private forget(conn: AgentConnection): void {
    this.idle = this.idle.filter((e) => e.conn !== conn);
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
