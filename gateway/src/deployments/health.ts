// Judges the target version during one step of a deployment: the thresholds against the gateway's counters
// since the step began, then each PromQL condition. A breach rolls back; anything that cannot be judged
// pauses the deployment with its reason, so it never proceeds blind.
import type { RollbackSpec } from '../../../apis/deployment.ts';
import { type CounterSample, quantileMs, since, type VersionCounters } from './counters.ts';
import {
  evaluatePromQl,
  expandPlaceholders,
  type PromQlPlaceholders,
  type Verdict,
} from './prometheus-query.ts';

export type HealthVerdict = Verdict;

export interface HealthDeps {
  counters: VersionCounters;
  /** The Prometheus HTTP API for `rollback.promql`; undefined when none is configured. */
  prometheusUrl: string | undefined;
}

/** Whether a rollback spec needs the gateway's counters. */
export function usesCounters(rollback: RollbackSpec | undefined): boolean {
  return (
    rollback?.errorRate !== undefined ||
    rollback?.throttleRate !== undefined ||
    rollback?.p99DurationMs !== undefined
  );
}

export class HealthJudge {
  private readonly deps: HealthDeps;
  private readonly rollback: RollbackSpec;
  private readonly target: PromQlPlaceholders;
  private baseline: CounterSample | undefined;

  constructor(deps: HealthDeps, rollback: RollbackSpec | undefined, target: PromQlPlaceholders) {
    this.deps = deps;
    this.rollback = rollback ?? {};
    this.target = target;
  }

  /** Starts a step's window: the thresholds judge only what happens from here. */
  async beginStep(): Promise<void> {
    // Unreadable now: the next judgement starts the window instead.
    this.baseline = usesCounters(this.rollback) ? await this.sample().catch(() => undefined) : undefined;
  }

  async judge(): Promise<HealthVerdict> {
    if (usesCounters(this.rollback)) {
      let now: CounterSample | undefined;
      try {
        now = await this.sample();
      } catch (err) {
        return {
          kind: 'unknown',
          reason: `cannot read the gateway's counters: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
      if (!now)
        return { kind: 'unknown', reason: "the gateway's metrics are off; thresholds cannot be judged" };
      // Another gateway answered (cluster mode, behind a Service): its counters start a new window.
      if (!this.baseline || this.baseline.source !== now.source) this.baseline = now;
      const breach = this.thresholdBreach(since(this.baseline, now));
      if (breach) return { kind: 'breach', reason: breach };
    }
    for (const query of this.rollback.promql ?? []) {
      if (!this.deps.prometheusUrl)
        return { kind: 'unknown', reason: 'rollback.promql is set but no Prometheus URL is configured' };
      const verdict = await evaluatePromQl(this.deps.prometheusUrl, expandPlaceholders(query, this.target));
      if (verdict.kind !== 'healthy') return verdict;
    }
    return { kind: 'healthy' };
  }

  private async sample(): Promise<CounterSample | undefined> {
    return this.deps.counters.read(this.target.namespace, this.target.function, this.target.version);
  }

  private thresholdBreach(window: CounterSample): string | undefined {
    const { errorRate, throttleRate, p99DurationMs, minInvocations = 1 } = this.rollback;
    const v = this.target.version;
    const percent = (x: number) => `${(x * 100).toFixed(1)} %`;
    if (errorRate !== undefined && window.invocations >= minInvocations) {
      const rate = window.errors / window.invocations;
      if (rate > errorRate)
        return `version ${v} failed ${window.errors} of ${window.invocations} invocations (${percent(rate)} > ${percent(errorRate)})`;
    }
    const offered = window.invocations + window.throttles;
    if (throttleRate !== undefined && offered >= minInvocations) {
      const rate = window.throttles / offered;
      if (rate > throttleRate)
        return `version ${v} throttled ${window.throttles} of ${offered} calls (${percent(rate)} > ${percent(throttleRate)})`;
    }
    if (p99DurationMs !== undefined && window.invocations >= minInvocations) {
      const p99 = quantileMs(window.durationBuckets, 0.99);
      if (p99 !== undefined && p99 > p99DurationMs)
        return `version ${v} p99 duration ${Math.round(p99)} ms > ${p99DurationMs} ms`;
    }
    return undefined;
  }
}
