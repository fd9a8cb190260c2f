// One batch's way through a mapping, after it was received: filters (filtered-out records are settled as
// Lambda deletes them), the 6 MB cap (a record too large for any invocation is discarded), the FIFO group
// locks, the invocation with its retries, settling by outcome, and on-failure records for what the kind
// discards. The worker (mapping-worker.ts) owns connecting and the poll loops that feed it.
import { type FilterPattern, matchesAny } from '../../../apis/event-filter.ts';
import { functionArn } from '../registry/function-definition.ts';
import { Backoff, pause } from './backoff.ts';
import { type GroupLocks, MAX_BATCH_PAYLOAD_BYTES } from './batch-assembler.ts';
import { failureRecord } from './failure-record.ts';
import { invokeBatch } from './invoke-batch.ts';
import type { MappingDefinition } from './mapping.ts';
import type { MappingStatusKeeper } from './mapping-status.ts';
import type { WorkerDeps } from './mapping-worker.ts';
import type { MappingLabels } from './observer.ts';
import type { BatchOutcome, SettleResult, SourceKind, SourcePoller, SourceRecord } from './source-kind.ts';

interface Invocation {
  statusCode: number;
  executedVersion: string | undefined;
  attempt: number;
}

export interface BatchProcessorParts {
  definition: MappingDefinition;
  kind: SourceKind;
  deps: WorkerDeps;
  labels: MappingLabels;
  filters: readonly FilterPattern[];
  groups: GroupLocks;
  status: MappingStatusKeeper;
  /** Aborted when the mapping stops: a throttled batch is abandoned, retries end. */
  stopped: AbortSignal;
}

export class BatchProcessor {
  private readonly definition: MappingDefinition;
  private readonly kind: SourceKind;
  private readonly deps: WorkerDeps;
  private readonly labels: MappingLabels;
  private readonly filters: readonly FilterPattern[];
  private readonly groups: GroupLocks;
  private readonly status: MappingStatusKeeper;
  private readonly stopped: AbortSignal;

  constructor(parts: BatchProcessorParts) {
    this.definition = parts.definition;
    this.kind = parts.kind;
    this.deps = parts.deps;
    this.labels = parts.labels;
    this.filters = parts.filters;
    this.groups = parts.groups;
    this.status = parts.status;
    this.stopped = parts.stopped;
  }

  /** Filters, invokes and settles one received batch; resolves once every record of it is settled. */
  async process(
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
        if (!retry || retry.length === 0 || this.stopped.aborted) return;
        records = retry;
        await pause(backoff.next(), this.stopped);
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
            signal: this.stopped,
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
        this.status.setResult(processingResult(result.outcome));
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
    invocation: Invocation | undefined,
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
    invocation: Invocation | undefined,
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
}

function processingResult(outcome: BatchOutcome): string {
  if (outcome.kind !== 'failure') return 'OK';
  if (outcome.errorType === 'Sandbox.Timedout') return 'PROBLEM: Function timed out';
  if (outcome.reason === 'function_error') return 'PROBLEM: Function call failed';
  if (outcome.reason === 'invalid_response')
    return 'PROBLEM: Function response is not a valid batch response';
  return 'PROBLEM: Function could not be invoked';
}

function distinctGroups(records: readonly SourceRecord[]): string[] {
  return [...new Set(records.map((r) => r.group).filter((g): g is string => g !== undefined))];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
