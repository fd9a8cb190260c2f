// Fires schedule mappings: at each tick of a mapping's rate() or cron() expression it enqueues one async
// invocation of the function with EventBridge's Scheduled Event. Every gateway replica runs every schedule;
// the tick's deterministic key makes the durable queue keep exactly one copy (docs/architecture.md ADR-27).
// Ticks that fall while no replica runs are skipped, as EventBridge skips them.
import {
  nextFireTimes,
  parseScheduleExpression,
  type Schedule,
} from '../../../../apis/schedule-expression.ts';
import { type EventQueue, newEvent, ONCE_KEY_MEMORY_MS } from '../../async/event-queue.ts';
import type { MappingDefinition } from '../mapping.ts';
import type { Clock } from './clock.ts';
import { scheduledEvent, tickId } from './scheduled-event.ts';

export type TickOutcome = 'fired' | 'duplicate' | 'missed';

export interface ScheduleLabels {
  namespace: string;
  function: string;
  mapping: string;
}

export interface ScheduleObserver {
  /** A tick handled: `fired` (this replica enqueued it), `duplicate` (another had) or `missed` (too late). */
  tick(labels: ScheduleLabels, outcome: TickOutcome, lateMs: number): void;
  /** The next fire time (epoch ms), or undefined when the expression has none left. */
  next(labels: ScheduleLabels, at: number | undefined): void;
  removed(labels: ScheduleLabels): void;
}

export interface SchedulerDeps {
  queue: Pick<EventQueue, 'enqueueOnce'>;
  clock: Clock;
  region: string;
  observer?: ScheduleObserver;
  log: (line: string) => void;
  /**
   * How late a tick may still fire (an event loop stall, a slow queue). Later ones count as missed. Kept
   * well inside the queue's memory of keys, so a late duplicate is still recognised.
   */
  lateToleranceMs?: number;
}

const DEFAULT_TOLERANCE_MS = Math.min(60_000, ONCE_KEY_MEMORY_MS / 2);
/** A tick whose enqueue failed (queue unreachable) is offered again this often while still within tolerance. */
const ENQUEUE_RETRY_MS = 500;

interface Running {
  definition: MappingDefinition;
  schedule: Schedule;
  controller: AbortController;
  done: Promise<void>;
}

export class Scheduler {
  private readonly deps: SchedulerDeps;
  private readonly running = new Map<string, Running>();
  private readonly tolerance: number;
  private readonly advanceListeners: Array<(uuid: string) => void> = [];

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
    this.tolerance = deps.lateToleranceMs ?? DEFAULT_TOLERANCE_MS;
  }

  /** Starts (or restarts, after a change) a mapping's ticks; a disabled mapping stops. */
  async put(definition: MappingDefinition): Promise<void> {
    await this.remove(definition.uuid);
    const source = definition.spec.source.schedule;
    if (!source || !definition.spec.enabled) return;
    const parsed = parseScheduleExpression(source.expression);
    if (!parsed.ok) throw new Error(`schedule ${definition.name}: ${parsed.reason}`);
    const controller = new AbortController();
    const entry: Running = { definition, schedule: parsed.schedule, controller, done: Promise.resolve() };
    entry.done = this.run(entry).catch((err) =>
      this.deps.log(
        `schedule ${definition.name}: stopped: ${err instanceof Error ? err.message : String(err)}`,
      ),
    );
    this.running.set(definition.uuid, entry);
  }

  async remove(uuid: string): Promise<void> {
    const entry = this.running.get(uuid);
    if (!entry) return;
    this.running.delete(uuid);
    entry.controller.abort();
    await entry.done;
    this.deps.observer?.removed(labelsOf(entry.definition));
  }

  /** Told after each tick of a mapping is handled, so its status can show the new next fire times. */
  onAdvance(listener: (uuid: string) => void): void {
    this.advanceListeners.push(listener);
  }

  /** The next `count` fire times of a running mapping, for its status (empty when not running). */
  nextFireTimes(uuid: string, count: number): number[] {
    const entry = this.running.get(uuid);
    if (!entry) return [];
    const timeZone = entry.definition.spec.source.schedule?.timezone;
    return nextFireTimes(entry.schedule, { after: this.deps.clock.now(), count, timeZone });
  }

  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((uuid) => this.remove(uuid)));
  }

  private async run(entry: Running): Promise<void> {
    const { clock, observer } = this.deps;
    const { definition, schedule, controller } = entry;
    const signal = controller.signal;
    const labels = labelsOf(definition);
    const timeZone = definition.spec.source.schedule?.timezone;
    // Ticks before now are not caught up: they fell while this replica was not running.
    let after = clock.now();
    while (!signal.aborted) {
      const [tick] = nextFireTimes(schedule, { after, count: 1, timeZone });
      observer?.next(labels, tick);
      if (tick === undefined) return; // a cron whose last year has passed
      while (!signal.aborted && clock.now() < tick) await clock.sleep(tick - clock.now(), signal);
      if (signal.aborted) return;
      after = tick;
      await this.fire(entry, tick, labels, signal);
      for (const listener of this.advanceListeners) listener(definition.uuid);
    }
  }

  private async fire(
    entry: Running,
    tick: number,
    labels: ScheduleLabels,
    signal: AbortSignal,
  ): Promise<void> {
    const { clock, observer, queue, region } = this.deps;
    const { definition } = entry;
    const target = { uuid: definition.uuid, namespace: definition.namespace, name: definition.name, region };
    for (;;) {
      const lateMs = clock.now() - tick;
      if (lateMs > this.tolerance) {
        observer?.tick(labels, 'missed', lateMs);
        this.deps.log(
          `schedule ${definition.name}: tick ${new Date(tick).toISOString()} missed (${lateMs} ms late)`,
        );
        return;
      }
      const payload = Buffer.from(JSON.stringify(scheduledEvent(target, tick)));
      const event = newEvent(
        {
          requestId: tickId(definition.uuid, tick),
          namespace: definition.namespace,
          functionName: definition.spec.functionName,
          qualifier: definition.spec.qualifier,
          payload,
          traceHeader: undefined,
        },
        // The queue and its worker run on wall-clock time, whatever clock the ticks follow.
        Date.now(),
      );
      try {
        const fired = await queue.enqueueOnce(event, `schedule:${definition.uuid}:${tick}`);
        observer?.tick(labels, fired ? 'fired' : 'duplicate', lateMs);
        return;
      } catch (err) {
        this.deps.log(
          `schedule ${definition.name}: cannot enqueue tick ${new Date(tick).toISOString()}: ${err instanceof Error ? err.message : String(err)}`,
        );
        await clock.sleep(ENQUEUE_RETRY_MS, signal);
        if (signal.aborted) return;
      }
    }
  }
}

function labelsOf(d: MappingDefinition): ScheduleLabels {
  return { namespace: d.namespace, function: d.spec.functionName, mapping: d.name };
}
