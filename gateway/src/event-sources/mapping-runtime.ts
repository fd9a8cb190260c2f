// Owns one MappingWorker per event source mapping: starts, restarts (on a spec change), disables and removes
// them as mappings come and go — from manifests, the mapping API or the CRD — and keeps their status.
import { sourceKind } from '../../../apis/event-source-mapping.ts';
import { loadSourceKind } from './kinds.ts';
import type { MappingDefinition, MappingState, MappingStatus, StatusListener } from './mapping.ts';
import { MappingWorker, type WorkerDeps } from './mapping-worker.ts';
import type { Scheduler } from './schedule/scheduler.ts';
import type { SourceKind } from './source-kind.ts';

/** How many fire times a schedule's status lists. */
const NEXT_FIRE_TIMES = 3;

export type MappingRuntimeDeps = Omit<WorkerDeps, 'onStatus'> & {
  /** Told of every status change (cluster mode writes it to the CRD and raises Events). */
  onStatus?: StatusListener;
  /** Kinds to use instead of the built-in ones (tests of the runtime itself). */
  kinds?: (kind: string) => Promise<SourceKind | undefined>;
  /** Runs `schedule` mappings, which enqueue async invocations instead of polling a source. */
  scheduler?: Scheduler;
};

export class MappingRuntime {
  private readonly deps: MappingRuntimeDeps;
  private readonly workers = new Map<string, MappingWorker>();
  private readonly statuses = new Map<string, MappingStatus>();
  private readonly definitions = new Map<string, MappingDefinition>();
  /** Changes to one mapping run one after another. */
  private readonly chains = new Map<string, Promise<void>>();
  private closed = false;

  constructor(deps: MappingRuntimeDeps) {
    this.deps = deps;
    // After each tick the next fire times move on; the status (and the CRD's) shows the new ones.
    deps.scheduler?.onAdvance((uuid) => {
      const definition = this.definitions.get(uuid);
      const status = this.status(uuid);
      if (definition && status) this.report(definition, status);
    });
  }

  /** Starts a new mapping or applies a changed one (a restart of its worker). */
  put(definition: MappingDefinition): Promise<void> {
    this.definitions.set(definition.uuid, definition);
    return this.serially(definition.uuid, async () => {
      if (this.closed) return;
      const previous = this.workers.get(definition.uuid);
      if (previous) {
        await previous.stop(definition.spec.enabled ? 'Updating' : 'Disabling');
        this.workers.delete(definition.uuid);
      }
      const kindName = sourceKind(definition.spec.source);
      if (kindName === 'schedule' && this.deps.scheduler) {
        await this.putSchedule(definition, this.deps.scheduler);
        return;
      }
      const kind = await (this.deps.kinds ?? loadSourceKind)(kindName);
      if (!kind) {
        this.report(definition, {
          uuid: definition.uuid,
          sourceKind: kindName,
          state: 'Disabled',
          stateTransitionReason: 'USER_INITIATED',
          lastProcessingResult: `PROBLEM: ${kindName} sources are not supported by this gateway`,
          conditions: [],
          observedGeneration: definition.generation,
        });
        return;
      }
      const worker = new MappingWorker(definition, kind, {
        ...this.deps,
        onStatus: (status, event) => this.report(definition, status, event),
      });
      this.workers.set(definition.uuid, worker);
      worker.start(this.statuses.get(definition.uuid));
    });
  }

  /** Stops and forgets a mapping. */
  remove(uuid: string): Promise<void> {
    return this.serially(uuid, async () => {
      const worker = this.workers.get(uuid);
      this.workers.delete(uuid);
      await worker?.stop('Deleting');
      await this.deps.scheduler?.remove(uuid);
      if (worker) this.deps.observer.removed(worker.labels);
      this.statuses.delete(uuid);
      this.definitions.delete(uuid);
    });
  }

  status(uuid: string): MappingStatus | undefined {
    const status = this.statuses.get(uuid);
    if (status?.sourceKind !== 'schedule' || !this.deps.scheduler) return status;
    const next = this.deps.scheduler.nextFireTimes(uuid, NEXT_FIRE_TIMES);
    return { ...status, nextFireTimes: next.map((t) => new Date(t).toISOString()) };
  }

  /** A state to show before the worker has caught up (Lambda answers Creating, Updating, Deleting). */
  transitional(uuid: string, state: MappingState): void {
    const status = this.statuses.get(uuid);
    if (status) this.statuses.set(uuid, { ...status, state });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.chains.values()]);
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
    this.workers.clear();
    await this.deps.scheduler?.close();
  }

  /** A schedule has no worker: the scheduler enqueues each tick; the status says when the next ones are. */
  private async putSchedule(definition: MappingDefinition, scheduler: Scheduler): Promise<void> {
    const enabled = definition.spec.enabled;
    await scheduler.put(definition);
    const ready = {
      type: 'Ready' as const,
      status: enabled ? ('True' as const) : ('False' as const),
      reason: enabled ? 'Scheduled' : 'Disabled',
      message: enabled ? 'ticks are enqueued as async invocations' : 'the mapping is disabled',
      lastTransitionTime: new Date().toISOString(),
    };
    const next = scheduler.nextFireTimes(definition.uuid, NEXT_FIRE_TIMES);
    this.report(definition, {
      ...(enabled ? { nextFireTimes: next.map((t) => new Date(t).toISOString()) } : {}),
      uuid: definition.uuid,
      sourceKind: 'schedule',
      state: enabled ? 'Enabled' : 'Disabled',
      stateTransitionReason: 'USER_INITIATED',
      lastProcessingResult:
        this.statuses.get(definition.uuid)?.lastProcessingResult ?? 'No records processed',
      conditions: [ready],
      observedGeneration: definition.generation,
    });
  }

  private report(
    definition: MappingDefinition,
    status: MappingStatus,
    event?: Parameters<StatusListener>[2],
  ) {
    // A worker replaced by a newer one may still report while it stops; only the current one counts.
    const current = this.definitions.get(definition.uuid);
    if (current && current !== definition) return;
    this.statuses.set(definition.uuid, status);
    this.deps.onStatus?.(definition, status, event);
  }

  private serially(uuid: string, step: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(uuid) ?? Promise.resolve()).then(step).catch((err) => {
      this.deps.log(`event source mapping ${uuid}: ${err instanceof Error ? err.message : String(err)}`);
    });
    this.chains.set(uuid, next);
    void next.finally(() => {
      if (this.chains.get(uuid) === next) this.chains.delete(uuid);
    });
    return next;
  }
}
