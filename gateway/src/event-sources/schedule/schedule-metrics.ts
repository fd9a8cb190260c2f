// Prometheus series of schedule mappings (docs/observability.md): ticks by outcome, how late they fired,
// and when the next one is due.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { ScheduleLabels, ScheduleObserver, TickOutcome } from './scheduler.ts';

const LABELS = ['namespace', 'function', 'mapping'] as const;
const OUTCOMES: TickOutcome[] = ['fired', 'duplicate', 'missed'];
const LATENESS_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function scheduleMetrics(registry: Registry): ScheduleObserver {
  const registers = [registry];
  const ticks = new Counter({
    name: 'serval_schedule_ticks_total',
    help: 'Schedule ticks by outcome: fired (this replica enqueued it), duplicate (another replica had), missed (too late).',
    labelNames: [...LABELS, 'outcome'],
    registers,
  });
  const lateness = new Histogram({
    name: 'serval_schedule_tick_lateness_seconds',
    help: 'From a tick being due to its invocation being on the durable queue.',
    labelNames: LABELS,
    buckets: LATENESS_BUCKETS,
    registers,
  });
  const next = new Gauge({
    name: 'serval_schedule_next_fire_timestamp_seconds',
    help: 'When the schedule fires next (Unix time); absent when its expression has no fire times left.',
    labelNames: LABELS,
    registers,
  });
  const label = (l: ScheduleLabels) => ({ namespace: l.namespace, function: l.function, mapping: l.mapping });
  const started = new Set<string>();
  /** Series start at zero, so the first tick is an increase that rate() and alerts can see. */
  const start = (l: ScheduleLabels) => {
    const key = JSON.stringify(label(l));
    if (started.has(key)) return;
    started.add(key);
    lateness.zero(label(l));
    for (const outcome of OUTCOMES) ticks.inc({ ...label(l), outcome }, 0);
  };
  return {
    tick(l, outcome, lateMs) {
      ticks.inc({ ...label(l), outcome });
      if (outcome === 'fired') lateness.observe(label(l), Math.max(0, lateMs) / 1000);
    },
    next(l, at) {
      start(l);
      if (at === undefined) next.remove(label(l));
      else next.set(label(l), at / 1000);
    },
    removed(l) {
      started.delete(JSON.stringify(label(l)));
      lateness.remove(label(l));
      next.remove(label(l));
      for (const outcome of OUTCOMES) ticks.remove({ ...label(l), outcome });
    },
  };
}
