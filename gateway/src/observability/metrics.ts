// The gateway's Prometheus metrics: every series the dashboard and the alert rules in charts/serval read.
// Labels are bounded: namespace, function, version, alias and closed sets of outcomes and reasons; never a
// request id, an error message or a user-chosen error type.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import {
  type AsyncQueueStats,
  type ConcurrencySnapshot,
  concurrencyGauges,
  type EnvironmentSnapshot,
  environmentGauges,
  QueueGauges,
} from './scrape-gauges.ts';

export type { AsyncQueueStats, ConcurrencySnapshot, EnvironmentSnapshot };

export interface InvocationLabels {
  namespace: string;
  function: string;
  /** The executed version: `$LATEST` or a number. */
  version: string;
  /** The alias the caller named, or '' when it named none. */
  alias: string;
}

/** `error`: it ran and failed (X-Amz-Function-Error); `platform_error`: it never ran (no environment). */
export type InvocationOutcome = 'success' | 'error' | 'platform_error';
export type ErrorCategory = 'function' | 'runtime' | 'timeout' | 'sandbox' | 'platform';
export type EnvironmentStartOutcome = 'ready' | 'failed';

export type AsyncRetryReason = 'function_error' | 'throttle' | 'system_error';
export type AsyncDropReason = 'event_age' | 'retries_exhausted';
export type DestinationKind = 'on_success' | 'on_failure' | 'dead_letter';

const FN = ['namespace', 'function'] as const;
const VERSION = [...FN, 'version'] as const;
const INVOCATION = [...VERSION, 'alias'] as const;
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900,
];
const START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const MB = 1024 * 1024;
const MEMORY_BUCKETS = [32, 64, 128, 256, 512, 1024, 2048, 4096, 10240].map((m) => m * MB);

/** The per-invocation series of one label set, resolved once: prom-client hashes labels on every lookup. */
interface InvocationSeries {
  outcome: Record<InvocationOutcome, Counter.Internal>;
  duration: Record<'success' | 'error', Histogram.Internal<string>>;
  latency: Histogram.Internal<string>;
  billedSeconds: Counter.Internal;
  gbSeconds: Counter.Internal;
  memoryUsed: Histogram.Internal<string>;
  concurrent: Gauge.Internal<string>;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly invocations = this.counter(
    'serval_invocations_total',
    'Invocations admitted, by outcome: success, error (the function failed) or platform_error (it never ran).',
    [...INVOCATION, 'outcome'],
  );
  private readonly errors = this.counter(
    'serval_invocation_errors_total',
    'Failed invocations by category: function, runtime, timeout, sandbox, platform.',
    [...INVOCATION, 'category'],
  );
  private readonly throttles = this.counter(
    'serval_throttles_total',
    'Invocations refused for concurrency (HTTP 429), by Lambda throttle reason.',
    [...INVOCATION, 'reason'],
  );
  private readonly duration = this.histogram(
    'serval_invocation_duration_seconds',
    'Function run time as REPORT states it (Duration).',
    [...INVOCATION, 'outcome'],
    DURATION_BUCKETS,
  );
  private readonly latency = this.histogram(
    'serval_invocation_latency_seconds',
    'Time from admission to result at the gateway, including any wait for an environment.',
    INVOCATION,
    DURATION_BUCKETS,
  );
  private readonly initDuration = this.histogram(
    'serval_init_duration_seconds',
    "The runtime's init phase on a cold start (REPORT Init Duration).",
    VERSION,
    START_BUCKETS,
  );
  private readonly coldStarts = this.counter(
    'serval_cold_starts_total',
    'Invocations that initialised a runtime (REPORT carried an Init Duration).',
    VERSION,
  );
  private readonly environmentStarts = this.counter(
    'serval_environment_starts_total',
    'Execution environments started, by outcome: ready or failed.',
    [...VERSION, 'outcome'],
  );
  private readonly environmentStartDuration = this.histogram(
    'serval_environment_start_duration_seconds',
    'Time from launching an environment until its agent is linked and ready.',
    VERSION,
    START_BUCKETS,
  );
  private readonly memoryUsed = this.histogram(
    'serval_max_memory_used_bytes',
    'Peak memory of the runtime per invocation (REPORT Max Memory Used).',
    VERSION,
    MEMORY_BUCKETS,
  );
  private readonly billedSeconds = this.counter(
    'serval_billed_duration_seconds_total',
    'Billed duration (rounded up to the millisecond), for chargeback.',
    INVOCATION,
  );
  private readonly gbSeconds = this.counter(
    'serval_billed_gb_seconds_total',
    "Billed duration times configured memory in GB: Lambda's GB-seconds, for chargeback.",
    INVOCATION,
  );
  private readonly concurrent = this.gauge(
    'serval_concurrent_executions',
    'Invocations holding a unit of concurrency now, by function.',
    FN,
  );
  private readonly asyncRetries = this.counter(
    'serval_async_retries_total',
    'Event invocations put back for another attempt, by reason.',
    [...FN, 'reason'],
  );
  private readonly asyncDropped = this.counter(
    'serval_async_events_dropped_total',
    'Event invocations that finally failed, by reason: event_age or retries_exhausted.',
    [...FN, 'reason'],
  );
  private readonly deadLetters = this.counter(
    'serval_async_dead_letters_total',
    'Events kept as dead letters because no destination or dead-letter target took them.',
    FN,
  );
  private readonly destinationFailures = this.counter(
    'serval_destination_delivery_failures_total',
    'Failed deliveries to an on_success or on_failure destination or a dead_letter target.',
    [...FN, 'destination'],
  );
  private readonly recursionDropped = this.counter(
    'serval_recursive_invocations_dropped_total',
    "Invocations stopped because their function looped more than 16 times in one chain (Lambda's RecursiveInvocationsDropped).",
    FN,
  );
  private readonly eventAge = this.histogram(
    'serval_async_event_age_seconds',
    'Time from accepting an Event invocation until an attempt to run it.',
    FN,
    DURATION_BUCKETS.concat([3600, 21600]),
  );
  private readonly series = new Map<string, InvocationSeries>();
  private readonly queues = new QueueGauges(this.registry);

  constructor(options: { processMetrics?: boolean } = {}) {
    // Event-loop lag, heap and CPU of the gateway itself, under the standard names.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  // --- Invocations --------------------------------------------------------------------------------------

  invocationFinished(
    labels: InvocationLabels,
    result: { outcome: 'success' | 'error'; durationMs: number; billedDurationMs: number },
    latencySeconds: number,
    memorySizeMB: number,
  ): void {
    const s = this.seriesFor(labels);
    s.outcome[result.outcome].inc();
    s.latency.observe(latencySeconds);
    // An environment lost mid-run reports no time; nothing ran that could be billed or measured.
    if (result.durationMs <= 0) return;
    s.duration[result.outcome].observe(result.durationMs / 1000);
    s.billedSeconds.inc(result.billedDurationMs / 1000);
    s.gbSeconds.inc((result.billedDurationMs / 1000) * (memorySizeMB / 1024));
  }

  invocationError(labels: InvocationLabels, category: ErrorCategory): void {
    this.errors.labels(labels.namespace, labels.function, labels.version, labels.alias, category).inc();
  }

  platformError(labels: InvocationLabels, latencySeconds: number): void {
    const s = this.seriesFor(labels);
    s.outcome.platform_error.inc();
    s.latency.observe(latencySeconds);
    this.invocationError(labels, 'platform');
  }

  throttled(labels: InvocationLabels, reason: string): void {
    this.throttles.labels(labels.namespace, labels.function, labels.version, labels.alias, reason).inc();
  }

  /** A runtime initialised for this invocation; `maxMemoryUsedMB` is reported on every invocation. */
  runtimeReport(labels: InvocationLabels, initDurationMs: number | undefined, maxMemoryUsedMB: number): void {
    if (maxMemoryUsedMB > 0) this.seriesFor(labels).memoryUsed.observe(maxMemoryUsedMB * MB);
    if (initDurationMs === undefined) return;
    const { namespace, function: fn, version } = labels;
    this.coldStarts.labels(namespace, fn, version).inc();
    this.initDuration.labels(namespace, fn, version).observe(initDurationMs / 1000);
  }

  /** One more invocation holds a unit; call the result when it gives it back. */
  concurrencyTaken(labels: InvocationLabels): () => void {
    const gauge = this.seriesFor(labels).concurrent;
    gauge.inc();
    return () => gauge.dec();
  }

  environmentStarted(
    labels: { namespace: string; function: string; version: string },
    outcome: EnvironmentStartOutcome,
    seconds: number,
  ): void {
    const { namespace, function: fn, version } = labels;
    this.environmentStarts.labels(namespace, fn, version, outcome).inc();
    if (outcome === 'ready') this.environmentStartDuration.labels(namespace, fn, version).observe(seconds);
  }

  // --- Async invocations: called by the queue and its worker ------------------------------------------

  /**
   * Exports zero for the per-function async series of functions known at start-up, so rates and alert
   * rules see a series before the first retry or dead letter happens (Prometheus' advice on missing series).
   */
  knownFunctions(functions: Array<{ namespace: string; name: string }>): void {
    for (const { namespace, name } of functions) {
      this.deadLetters.labels(namespace, name).inc(0);
      for (const r of ['function_error', 'throttle', 'system_error'] satisfies AsyncRetryReason[])
        this.asyncRetries.labels(namespace, name, r).inc(0);
      for (const r of ['event_age', 'retries_exhausted'] satisfies AsyncDropReason[])
        this.asyncDropped.labels(namespace, name, r).inc(0);
      for (const d of ['on_success', 'on_failure', 'dead_letter'] satisfies DestinationKind[])
        this.destinationFailures.labels(namespace, name, d).inc(0);
    }
  }

  asyncRetry(namespace: string, fn: string, reason: AsyncRetryReason): void {
    this.asyncRetries.labels(namespace, fn, reason).inc();
  }

  asyncEventDropped(namespace: string, fn: string, reason: AsyncDropReason): void {
    this.asyncDropped.labels(namespace, fn, reason).inc();
  }

  asyncDeadLetter(namespace: string, fn: string): void {
    this.deadLetters.labels(namespace, fn).inc();
  }

  destinationFailed(namespace: string, fn: string, destination: DestinationKind): void {
    this.destinationFailures.labels(namespace, fn, destination).inc();
  }

  recursiveInvocationDropped(namespace: string, fn: string): void {
    this.recursionDropped.labels(namespace, fn).inc();
  }

  /** How long an event waited from acceptance until this attempt (Lambda's AsyncEventAge). */
  asyncEventAge(namespace: string, fn: string, seconds: number): void {
    this.eventAge.labels(namespace, fn).observe(seconds);
  }

  // --- Sources read at scrape time ----------------------------------------------------------------------

  /** Reservations, limits and use per namespace. */
  observeConcurrency(read: () => ConcurrencySnapshot[]): void {
    concurrencyGauges(this.registry, read);
  }

  /** Environments by state and invocations waiting for one, per function version. */
  observeEnvironments(read: () => EnvironmentSnapshot[]): void {
    environmentGauges(this.registry, read);
  }

  /** Reads queue depth, oldest event age and dead letters from `source` on every scrape, labelled `queue`. */
  observeQueue(source: AsyncQueueStats, name: string): void {
    this.queues.observe(source, name);
  }

  // --- Internals ----------------------------------------------------------------------------------------

  private seriesFor(l: InvocationLabels): InvocationSeries {
    const key = `${l.namespace}\u0000${l.function}\u0000${l.version}\u0000${l.alias}`;
    let s = this.series.get(key);
    if (!s) {
      const v = [l.namespace, l.function, l.version, l.alias];
      s = {
        outcome: {
          success: this.invocations.labels(...v, 'success'),
          error: this.invocations.labels(...v, 'error'),
          platform_error: this.invocations.labels(...v, 'platform_error'),
        },
        duration: {
          success: this.duration.labels(...v, 'success'),
          error: this.duration.labels(...v, 'error'),
        },
        latency: this.latency.labels(...v),
        billedSeconds: this.billedSeconds.labels(...v),
        gbSeconds: this.gbSeconds.labels(...v),
        memoryUsed: this.memoryUsed.labels(l.namespace, l.function, l.version),
        concurrent: this.concurrent.labels(l.namespace, l.function),
      };
      this.series.set(key, s);
    }
    return s;
  }

  private counter<T extends string>(name: string, help: string, labelNames: readonly T[]): Counter<T> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private gauge<T extends string>(name: string, help: string, labelNames: readonly T[]): Gauge<T> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram<T extends string>(
    name: string,
    help: string,
    labelNames: readonly T[],
    buckets: number[],
  ): Histogram<T> {
    return new Histogram({ name, help, labelNames, buckets, registers: [this.registry] });
  }
}
