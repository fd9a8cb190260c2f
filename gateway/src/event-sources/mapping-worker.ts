// Runs one event source mapping: connects to its source (reconnecting with backoff when the broker goes away),
// and runs poll loops that each receive a batch, filter it, invoke the function and settle the records. Loops
// scale up while batches come full and down when the source is idle, bounded by scalingConfig's
// maximumConcurrency and the function's reserved concurrency.

import { FilterPattern, matchesAny } from '../../../apis/event-filter.ts';
import type { SourceKind as SourceKindName } from '../../../apis/event-source-mapping.ts';
import type { Invoker } from '../invocation/invoker.ts';
import type { Tracing } from '../observability/tracing.ts';
import { functionArn } from '../registry/function-definition.ts';
import { Backoff, pause } from './backoff.ts';
import { BatchAssembler, GroupLocks, MAX_BATCH_PAYLOAD_BYTES } from './batch-assembler.ts';
import { failureRecord } from './failure-record.ts';
import { invokeBatch } from './invoke-batch.ts';
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
import type {
  BatchOutcome,
  Credentials,
  SettleResult,
  SourceKind,
  SourcePoller,
  SourceRecord,
} from './source-kind.ts';

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
      await this.process(poller, batch, signal, started);
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
      await this.process(poller, ahead, this.controller.signal, Date.now());
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

  private async process(
    poller: SourcePoller,
    received: SourceRecord[],
    signal: AbortSignal,
    receivedAt: number,
  ): Promise<void> {
    const dataKey = this.kind.dataKey;
    let matched = received.filter((r) => matchesAny(this.filters, { view: r.filterView, dataKey }));
    if (matched.length < received.length) {
      const filtered = received.filter((r) => !matched.includes(r));
      this.deps.observer.filtered(this.labels, filtered.length);
      await this.settle(poller, filtered, { kind: 'filtered' }, undefined);
    }
    // A record too large for any invocation is discarded to the on-failure destination, never retried.
    const oversized = matched.filter((r) => r.eventBytes > MAX_BATCH_PAYLOAD_BYTES);
    if (oversized.length > 0) {
      const outcome: BatchOutcome = {
        kind: 'failure',
        reason: 'platform_error',
        errorType: 'RequestEntityTooLargeException',
        message: `a record of over ${MAX_BATCH_PAYLOAD_BYTES} bytes exceeds the invoke payload limit`,
      };
      await this.discard(poller, { records: oversized, condition: 'PayloadTooLarge', outcome }, undefined);
      await this.settle(poller, oversized, { kind: 'filtered' }, undefined);
      matched = matched.filter((r) => !oversized.includes(r));
    }
    if (matched.length === 0) return;
    const groups = this.kind.ordering === 'per-group' ? distinctGroups(matched) : [];
    // A stopping mapping still finishes the batch it holds, so only the lost-connection signal cuts the wait.
    if (!(await this.groups.acquire(groups, signal))) return;
    try {
      let records: readonly SourceRecord[] = matched;
      let attempts = 0;
      const backoff = new Backoff(100, 10_000);
      while (records.length > 0) {
        attempts++;
        const retry = await this.invokeAndSettle(poller, records, attempts, receivedAt);
        if (!retry || retry.length === 0 || this.controller.signal.aborted) return;
        records = retry;
        await pause(backoff.next(), this.controller.signal);
      }
    } finally {
      this.groups.release(groups);
    }
  }

  private async invokeAndSettle(
    poller: SourcePoller,
    records: readonly SourceRecord[],
    attempt: number,
    receivedAt: number,
  ): Promise<readonly SourceRecord[] | undefined> {
    const { tracing } = this.deps;
    const { spec, namespace } = this.definition;
    return tracing.span(
      'event-source.batch',
      {
        'serval.event_source.kind': this.kind.kind,
        'serval.event_source.mapping': this.definition.uuid,
        'serval.event_source.batch_size': records.length,
        'faas.trigger': 'pubsub',
      },
      async () => {
        const now = Date.now();
        const result = await invokeBatch(
          {
            invoker: this.deps.invoker,
            namespace,
            functionName: spec.functionName,
            qualifier: spec.qualifier,
            reportBatchItemFailures: spec.functionResponseTypes?.includes('ReportBatchItemFailures') ?? false,
            poller,
            // The batch continues the chain of a record that carries one (recursive-loop detection).
            traceHeader: tracing.carriedTraceHeader(records.find((r) => r.traceHeader)?.traceHeader),
            // A stopping mapping abandons a throttled batch: its records return to the source unsettled.
            signal: this.controller.signal,
            onThrottle: () => this.deps.observer.throttled(this.labels),
          },
          records,
        );
        if (result === 'stopped') return undefined;
        this.deps.observer.invoked(
          this.labels,
          records.length,
          records.filter((r) => r.sentAt !== undefined).map((r) => now - r.sentAt!),
        );
        const failedCount =
          result.outcome.kind === 'failure'
            ? records.length
            : result.outcome.kind === 'partial'
              ? result.outcome.failed.length
              : 0;
        if (failedCount > 0) this.deps.observer.failed(this.labels, failedCount);
        this.statusKeeper.setResult(processingResult(result.outcome));
        const settled = await this.settle(poller, records, result.outcome, {
          statusCode: result.statusCode,
          executedVersion: result.executedVersion,
          attempt,
        });
        return settled?.retry;
      },
      // The span runs from receive to settle; the invocation's own spans are its children.
      { startTime: attempt === 1 ? receivedAt : undefined },
    );
  }

  private async settle(
    poller: SourcePoller,
    records: readonly SourceRecord[],
    outcome: BatchOutcome,
    invocation: { statusCode: number; executedVersion: string | undefined; attempt: number } | undefined,
  ): Promise<SettleResult | undefined> {
    let result: SettleResult | undefined;
    try {
      result = await poller.settle(records, outcome);
    } catch (err) {
      // Unsettled records come back from the source: at least once, with a duplicate.
      this.deps.log(`event source mapping ${this.definition.uuid}: settle failed: ${messageOf(err)}`);
      return undefined;
    }
    if (result?.discarded && result.discarded.records.length > 0) {
      await this.discard(poller, result.discarded, invocation);
    }
    return result;
  }

  private async discard(
    poller: SourcePoller,
    discarded: NonNullable<SettleResult['discarded']>,
    invocation: { statusCode: number; executedVersion: string | undefined; attempt: number } | undefined,
  ): Promise<void> {
    const { spec, namespace } = this.definition;
    this.deps.observer.dropped(this.labels, discarded.records.length);
    const destination = spec.destinationConfig?.onFailure;
    if (!destination) return;
    const record = failureRecord({
      functionArn: functionArn(this.deps.region, namespace, spec.functionName, spec.qualifier),
      condition: discarded.condition,
      approximateInvokeCount: Math.max(
        invocation?.attempt ?? 0,
        ...discarded.records.map((r) => r.deliveryCount),
      ),
      outcome: discarded.outcome,
      statusCode: invocation?.statusCode ?? 200,
      executedVersion: invocation?.executedVersion,
      batchInfo: poller.failureBatchInfo?.(discarded.records) ?? {},
      now: Date.now(),
    });
    await this.deps.sendFailureRecord(destination, record, namespace).catch((err) => {
      this.deps.log(
        `event source mapping ${this.definition.uuid}: on-failure destination failed: ${messageOf(err)}`,
      );
    });
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

function processingResult(outcome: BatchOutcome): string {
  if (outcome.kind !== 'failure') return 'OK';
  if (outcome.errorType === 'Sandbox.Timedout') return 'PROBLEM: Function timed out';
  if (outcome.reason === 'function_error') return 'PROBLEM: Function call failed';
  if (outcome.reason === 'invalid_response')
    return 'PROBLEM: Function response is not a valid batch response';
  return 'PROBLEM: Function could not be invoked';
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

function distinctGroups(records: readonly SourceRecord[]): string[] {
  return [...new Set(records.map((r) => r.group).filter((g): g is string => g !== undefined))];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
