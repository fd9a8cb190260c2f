// Runs one event source mapping: connects to its source (reconnecting with backoff when the broker goes away),
// and runs poll loops that each receive a batch and hand it to the BatchProcessor (filter, invoke, settle). Loops
// scale up while batches come full and down when the source is idle, bounded by scalingConfig's
// maximumConcurrency and the function's reserved concurrency.

import { FilterPattern } from '../../../apis/event-filter.ts';
import type { SourceKind as SourceKindName } from '../../../apis/event-source-mapping.ts';
import type { Invoker } from '../invocation/invoker.ts';
import type { Tracing } from '../observability/tracing.ts';
import { Backoff, pause } from './backoff.ts';
import { BatchAssembler, GroupLocks } from './batch-assembler.ts';
import { BatchProcessor } from './batch-processor.ts';
import { LoopScaler } from './loop-scaler.ts';
import {
  batchingOf,
  type MappingDefinition,
  type MappingState,
  type MappingStatus,
  type StatusEvent,
} from './mapping.ts';
import { MappingStatusKeeper } from './mapping-status.ts';
import type { EventSourceObserver, MappingLabels } from './observer.ts';
import type { Credentials, SourceKind, SourcePoller, SourceRecord } from './source-kind.ts';

/** Lambda scales an SQS mapping to 1,000 concurrent batches at most (reference §10.4). */
const DEFAULT_MAX_CONCURRENCY = 1000;
const BACKLOG_EVERY_MS = 2_000;

export interface WorkerDeps {
  invoker: Invoker;
  tracing: Tracing;
  observer: EventSourceObserver;
  /** Sends an on-failure record (the async destination machinery). */
  sendFailureRecord: (
    destination: NonNullable<NonNullable<MappingDefinition['spec']['destinationConfig']>['onFailure']>,
    record: unknown,
    namespace: string,
  ) => Promise<void>;
  region: string;
  credentials: (definition: MappingDefinition) => Promise<Credentials>;
  /** The function's reserved concurrency, when it has one. */
  reservedConcurrency: (namespace: string, functionName: string) => number | undefined;
  log: (line: string) => void;
  onStatus: (status: MappingStatus, event?: StatusEvent) => void;
}

export class MappingWorker {
  readonly definition: MappingDefinition;
  private readonly kind: SourceKind;
  private readonly deps: WorkerDeps;
  readonly labels: MappingLabels;
  private readonly filters: FilterPattern[];
  private readonly groups = new GroupLocks();
  private readonly controller = new AbortController();
  private poller: SourcePoller | undefined;
  private running: Promise<void> | undefined;
  private readonly statusKeeper: MappingStatusKeeper;
  private readonly processor: BatchProcessor;
  private loops = 0;
  private scaler = new LoopScaler(Date.now());
  private lost: unknown;
  private lostSignal = new AbortController();

  constructor(definition: MappingDefinition, kind: SourceKind, deps: WorkerDeps) {
    this.definition = definition;
    this.kind = kind;
    this.deps = deps;
    this.labels = {
      namespace: definition.namespace,
      function: definition.spec.functionName,
      mapping: definition.name,
      kind: kind.kind,
    };
    this.filters = (definition.spec.filterCriteria?.filters ?? []).map((f) => FilterPattern.parse(f.pattern));
    this.statusKeeper = new MappingStatusKeeper(
      {
        uuid: definition.uuid,
        sourceKind: kind.kind as SourceKindName,
        state: definition.spec.enabled ? 'Enabled' : 'Disabled',
        stateTransitionReason: 'USER_INITIATED',
        lastProcessingResult: 'No records processed',
        conditions: [],
        observedGeneration: definition.generation,
      },
      deps.onStatus,
    );
    this.processor = new BatchProcessor({
      definition,
      kind,
      deps,
      labels: this.labels,
      filters: this.filters,
      groups: this.groups,
      status: this.statusKeeper,
      stopped: this.controller.signal,
    });
  }

  get status(): MappingStatus {
    return this.statusKeeper.status;
  }

  /** Starts polling when the mapping is enabled; a disabled one only reports its status. */
  start(previous?: MappingStatus): void {
    const status = this.statusKeeper;
    if (previous) status.restore(previous, this.definition.generation);
    if (!this.definition.spec.enabled) {
      status.setState('Disabled');
      status.setCondition('Ready', 'False', 'Disabled', 'the mapping is disabled');
      return;
    }
    status.setState('Enabled');
    this.running = this.run();
  }

  /** Stops the loops; records in flight finish their invocation and are settled first. */
  async stop(state: MappingState = 'Disabled'): Promise<void> {
    this.controller.abort();
    await this.running;
    await this.poller?.close().catch(() => undefined);
    this.statusKeeper.setState(state);
  }

  private async run(): Promise<void> {
    const signal = this.controller.signal;
    const backoff = new Backoff(250, 30_000);
    const poller = this.kind.open({
      uuid: this.definition.uuid,
      namespace: this.definition.namespace,
      name: this.definition.name,
      spec: this.definition.spec,
      region: this.deps.region,
      credentials: () => this.deps.credentials(this.definition),
      log: this.deps.log,
      brokerRequest: (operation) => this.deps.observer.brokerRequest(this.labels, operation),
    });
    this.poller = poller;
    const backlogTimer = setInterval(() => void this.readBacklog(poller), BACKLOG_EVERY_MS);
    try {
      while (!signal.aborted) {
        try {
          await poller.connect();
        } catch (err) {
          this.disconnected(err);
          await pause(backoff.next(), signal);
          continue;
        }
        backoff.reset();
        this.connected();
        this.lost = undefined;
        this.lostSignal = new AbortController();
        await this.runLoops(poller);
        if (this.lost !== undefined && !signal.aborted) {
          this.disconnected(this.lost);
          await pause(backoff.next(), signal);
        }
      }
    } finally {
      clearInterval(backlogTimer);
    }
  }

  /** Runs poll loops until the mapping stops or the connection is lost. */
  private runLoops(poller: SourcePoller): Promise<void> {
    const { batchSize, windowMs } = batchingOf(this.definition.spec, this.kind.defaults);
    const batching = {
      batchSize,
      windowMs,
      maxPerReceive: this.kind.maxPerReceive,
      wholeBatches: this.kind.assemblesBatches ?? false,
      leaseMs: poller.leaseMs?.(),
    };
    const signal = AbortSignal.any([this.controller.signal, this.lostSignal.signal]);
    const loops = new Set<Promise<void>>();
    this.scaler = new LoopScaler(Date.now());
    return new Promise<void>((resolve) => {
      const spawn = () => {
        this.loops++;
        const loop = this.loop(poller, new BatchAssembler(poller, batching), signal, spawn).finally(() => {
          this.loops--;
          loops.delete(loop);
          if (loops.size === 0) resolve();
        });
        loops.add(loop);
      };
      spawn();
    });
  }

  private async loop(
    poller: SourcePoller,
    assembler: BatchAssembler<SourceRecord>,
    signal: AbortSignal,
    spawn: () => void,
  ): Promise<void> {
    const { batchSize } = batchingOf(this.definition.spec, this.kind.defaults);
    const leaseMs = poller.leaseMs?.();
    let warm = false;
    /** How long this loop's last batch took, from invoke to settled. */
    let lastBatchMs = Number.POSITIVE_INFINITY;
    while (!signal.aborted) {
      if (!(await this.functionCanRun(signal))) continue;
      let batch: SourceRecord[];
      try {
        batch = await assembler.next(signal);
      } catch (err) {
        if (!signal.aborted) this.connectionLost(err);
        return;
      }
      if (batch.length === 0) {
        if (this.loops > 1 && !assembler.holding) return; // idle: scale down
        continue;
      }
      const redelivered = batch.filter((r) => r.deliveryCount > 1).length;
      this.deps.observer.polled(this.labels, batch.length, redelivered);
      // A full batch means more is waiting: perhaps one more loop (loop-scaler.ts decides), and the next
      // batch is received while this one is invoked (aheadPays says when).
      if (batch.length >= Math.min(this.kind.maxPerReceive, batchSize)) {
        const target = this.scaler.backlogged(Date.now(), this.maxLoops());
        if (this.loops < target) spawn();
        if (this.loops <= this.scaler.target && aheadPays(batch, lastBatchMs, leaseMs))
          assembler.prefetch(signal);
      }
      const started = Date.now();
      await this.processor.process(poller, batch, signal, started);
      lastBatchMs = Date.now() - started;
      if (warm) this.scaler.finishedBatch(Date.now());
      else this.scaler.warmed(Date.now());
      warm = true;
      // A loop the scaler took back ends after its batch.
      if (this.loops > this.scaler.target && !assembler.holding) return;
    }
    // A batch received ahead when the mapping stopped is invoked and settled like the one in flight (one
    // received ahead of a lost connection could not be settled: the broker redelivers it).
    const ahead = await assembler.takeAhead();
    if (ahead.length > 0 && !this.lostSignal.signal.aborted) {
      this.deps.observer.polled(this.labels, ahead.length, ahead.filter((r) => r.deliveryCount > 1).length);
      await this.processor.process(poller, ahead, this.controller.signal, Date.now());
    }
  }

  private maxLoops(): number {
    const { namespace, spec } = this.definition;
    const reserved = this.deps.reservedConcurrency(namespace, spec.functionName);
    return Math.max(
      1,
      Math.min(spec.scalingConfig?.maximumConcurrency ?? DEFAULT_MAX_CONCURRENCY, reserved ?? Infinity),
    );
  }

  /** A missing function or one with reserved concurrency 0 is not fed: its records stay in the source. */
  private async functionCanRun(signal: AbortSignal): Promise<boolean> {
    const { namespace, spec } = this.definition;
    let problem: string | undefined;
    try {
      this.deps.invoker.resolve(namespace, spec.functionName, spec.qualifier);
      if (this.deps.reservedConcurrency(namespace, spec.functionName) === 0) {
        problem = 'PROBLEM: Function has reserved concurrency 0';
      }
    } catch {
      problem = 'PROBLEM: Function not found';
    }
    if (problem === undefined) {
      this.statusKeeper.functionReady();
      return true;
    }
    this.statusKeeper.functionProblem(problem);
    await pause(1_000, signal);
    return false;
  }

  private async readBacklog(poller: SourcePoller): Promise<void> {
    if (!poller.backlog || this.lost !== undefined) return;
    try {
      this.deps.observer.backlog(this.labels, await poller.backlog());
    } catch {
      // an unreachable broker is reported by the poll loops
    }
  }

  private connected(): void {
    this.deps.observer.connected(this.labels, true);
    this.statusKeeper.connected();
  }

  private disconnected(err: unknown): void {
    this.deps.observer.connected(this.labels, false);
    const news = this.statusKeeper.disconnected(err);
    if (news) this.deps.log(`event source mapping ${this.definition.uuid}: ${news}; reconnecting`);
  }

  private connectionLost(err: unknown): void {
    if (this.lost !== undefined) return;
    this.lost = err ?? new Error('connection lost');
    this.lostSignal.abort();
  }
}

/**
 * Receiving ahead holds a batch leased while the current one runs, so only when that is cheap: batches of
 * ordered groups (FIFO) are never received ahead (a batch dropped as stale would spend a receive of its
 * group's messages, toward the queue's maxReceiveCount), nor while the last batch took a quarter of the
 * lease or more (a slow function, or a short SQS visibility timeout).
 */
function aheadPays(
  batch: readonly SourceRecord[],
  lastBatchMs: number,
  leaseMs: number | undefined,
): boolean {
  if (batch.some((r) => r.group !== undefined)) return false;
  return leaseMs === undefined || lastBatchMs < leaseMs / 4;
}
