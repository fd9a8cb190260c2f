// Gauges computed at scrape time from the gateway's own state: concurrency and limits, environments by
// state, and the async queue. Each is rebuilt on every scrape, so a series that no longer exists disappears.
import { Gauge, type Registry } from 'prom-client';

export interface ConcurrencySnapshot {
  namespace: string;
  accountLimit: number;
  unreservedLimit: number;
  unreservedInUse: number;
  reserved: Array<{ function: string; limit: number; inUse: number }>;
}

export interface EnvironmentSnapshot {
  namespace: string;
  function: string;
  version: string;
  idle: number;
  busy: number;
  starting: number;
  /** Invocations waiting for an environment of this version. */
  waiting: number;
}

/** Implemented by the async queue; read on every scrape. */
export interface AsyncQueueStats {
  stats(now: number): Promise<{ depth: number; oldestEventAgeSeconds: number; deadLetters: number }>;
}

type Setter = (labels: Record<string, string>, value: number) => void;

interface QueueReading {
  name: string;
  depth: number;
  oldestEventAgeSeconds: number;
  deadLetters: number;
}

const FN = ['namespace', 'function'] as const;
const VERSION = [...FN, 'version'] as const;

export function concurrencyGauges(registry: Registry, read: () => ConcurrencySnapshot[]): void {
  const byNamespace = (value: (ns: ConcurrencySnapshot) => number) => (set: Setter) => {
    for (const ns of read()) set({ namespace: ns.namespace }, value(ns));
  };
  gaugeFrom(registry, 'serval_reserved_concurrency', 'Reserved concurrency of a function.', FN, (set) => {
    for (const ns of read())
      for (const r of ns.reserved) set({ namespace: ns.namespace, function: r.function }, r.limit);
  });
  gaugeFrom(
    registry,
    'serval_account_concurrency_limit',
    'Concurrent executions allowed per namespace (the account limit).',
    ['namespace'],
    byNamespace((ns) => ns.accountLimit),
  );
  gaugeFrom(
    registry,
    'serval_account_concurrent_executions',
    'Invocations holding a unit in the namespace, reserved and unreserved.',
    ['namespace'],
    byNamespace((ns) => ns.reserved.reduce((sum, r) => sum + r.inUse, ns.unreservedInUse)),
  );
  gaugeFrom(
    registry,
    'serval_unreserved_concurrency_limit',
    'The account limit minus all reservations: what functions without a reservation share.',
    ['namespace'],
    byNamespace((ns) => ns.unreservedLimit),
  );
  gaugeFrom(
    registry,
    'serval_unreserved_concurrent_executions',
    'Invocations of functions without a reservation holding a unit.',
    ['namespace'],
    byNamespace((ns) => ns.unreservedInUse),
  );
}

export function environmentGauges(registry: Registry, read: () => EnvironmentSnapshot[]): void {
  gaugeFrom(
    registry,
    'serval_environments',
    'Execution environments by state: starting, idle or busy.',
    [...VERSION, 'state'],
    (set) => {
      for (const e of read()) {
        const base = { namespace: e.namespace, function: e.function, version: e.version };
        for (const state of ['starting', 'idle', 'busy'] as const) set({ ...base, state }, e[state]);
      }
    },
  );
  gaugeFrom(
    registry,
    'serval_invocations_waiting_for_environment',
    'Admitted invocations waiting for an environment of their version to become free or start.',
    VERSION,
    (set) => {
      for (const e of read())
        set({ namespace: e.namespace, function: e.function, version: e.version }, e.waiting);
    },
  );
}

/** Depth, oldest event age and held dead letters of each observed queue. */
export class QueueGauges {
  private readonly sources: Array<{ name: string; source: AsyncQueueStats }> = [];
  private snapshot: Promise<QueueReading[]> | undefined;

  constructor(registry: Registry) {
    const fromQueues = (value: (r: QueueReading) => number) => async (set: Setter) => {
      for (const r of await this.read()) set({ queue: r.name }, value(r));
    };
    gaugeFrom(
      registry,
      'serval_async_queue_depth',
      'Event invocations accepted and not yet finished (waiting, leased or backing off).',
      ['queue'],
      fromQueues((r) => r.depth),
    );
    gaugeFrom(
      registry,
      'serval_async_oldest_event_age_seconds',
      'Age of the oldest event still in the queue.',
      ['queue'],
      fromQueues((r) => r.oldestEventAgeSeconds),
    );
    gaugeFrom(
      registry,
      'serval_async_dead_letter_queue_depth',
      'Events held in the dead-letter store.',
      ['queue'],
      fromQueues((r) => r.deadLetters),
    );
  }

  observe(source: AsyncQueueStats, name: string): void {
    this.sources.push({ name, source });
  }

  /**
   * One read of every queue serves the three gauges of a scrape: prom-client starts collecting all metrics in
   * the same turn of the event loop, so the read is shared until the next turn. A failing queue is skipped.
   */
  private read(): Promise<QueueReading[]> {
    if (this.snapshot) return this.snapshot;
    const now = Date.now();
    const readings = this.sources.map(({ name, source }) =>
      source.stats(now).then(
        (s) => ({ name, ...s }),
        () => undefined,
      ),
    );
    this.snapshot = Promise.all(readings).then((r) => r.filter((x): x is QueueReading => x !== undefined));
    setImmediate(() => {
      this.snapshot = undefined;
    });
    return this.snapshot;
  }
}

/** A gauge whose series are rebuilt from `fill` on every scrape. */
export function gaugeFrom<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
  fill: (set: Setter) => void | Promise<void>,
): void {
  new Gauge({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      return fill((labels, value) => this.set(labels as Partial<Record<T, string>>, value));
    },
  });
}
