// The gateway's own per-version counters, as the rollback thresholds read them: invocations, failures,
// throttles and the run-time histogram of one function version, summed over every alias (or none) that
// reached it. Local mode reads them from the gateway's Prometheus registry in-process.
import type { Registry } from 'prom-client';

export interface CounterSample {
  /** Which gateway counted (cluster mode): samples from different gateways are not comparable. */
  source?: string | undefined;
  invocations: number;
  /** `error` and `platform_error` outcomes. */
  errors: number;
  throttles: number;
  /** Cumulative run-time histogram: upper bound in seconds → count at or below it (`+Inf` included). */
  durationBuckets: Map<number, number>;
}

export interface VersionCounters {
  /** Undefined when the gateway keeps no metrics (SERVAL_METRICS=off). */
  read(namespace: string, fn: string, version: string): Promise<CounterSample | undefined>;
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

export function registryCounters(registry: Registry | undefined): VersionCounters {
  return {
    async read(namespace, fn, version) {
      if (!registry) return undefined;
      const values = async (name: string): Promise<MetricValue[]> => {
        const metric = registry.getSingleMetric(name);
        if (!metric) return [];
        const data = (await metric.get()) as { values: MetricValue[] };
        return data.values.filter(
          (v) => v.labels.namespace === namespace && v.labels.function === fn && v.labels.version === version,
        );
      };
      const sample: CounterSample = { invocations: 0, errors: 0, throttles: 0, durationBuckets: new Map() };
      for (const v of await values('serval_invocations_total')) {
        sample.invocations += v.value;
        if (v.labels.outcome !== 'success') sample.errors += v.value;
      }
      for (const v of await values('serval_throttles_total')) sample.throttles += v.value;
      for (const v of await values('serval_invocation_duration_seconds')) {
        if (!v.metricName?.endsWith('_bucket')) continue;
        const le = v.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels.le);
        sample.durationBuckets.set(le, (sample.durationBuckets.get(le) ?? 0) + v.value);
      }
      return sample;
    },
  };
}

/** What happened between two samples of the same counters. */
export function since(before: CounterSample, after: CounterSample): CounterSample {
  const buckets = new Map<number, number>();
  for (const [le, count] of after.durationBuckets)
    buckets.set(le, count - (before.durationBuckets.get(le) ?? 0));
  return {
    invocations: after.invocations - before.invocations,
    errors: after.errors - before.errors,
    throttles: after.throttles - before.throttles,
    durationBuckets: buckets,
  };
}

/**
 * The q-quantile in ms, interpolated within its bucket as Prometheus' histogram_quantile does; a quantile in
 * the +Inf bucket is the highest finite bound. Undefined with no samples.
 */
export function quantileMs(buckets: Map<number, number>, q: number): number | undefined {
  const bounds = [...buckets.keys()].sort((a, b) => a - b);
  const total = buckets.get(Number.POSITIVE_INFINITY) ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const le of bounds) {
    const count = buckets.get(le) ?? 0;
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return lower * 1000;
      const share = count === below ? 1 : (rank - below) / (count - below);
      return (lower + (le - lower) * share) * 1000;
    }
    lower = le;
    below = count;
  }
  return lower * 1000;
}
