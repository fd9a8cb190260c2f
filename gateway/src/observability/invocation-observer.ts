// Watches one invocation on its way through the Invoker: the invoke, queue-wait, admission and dispatch
// spans, and the metrics of its outcome. With metrics and tracing off it costs next to nothing.
import { type Span, SpanKind } from '@opentelemetry/api';
import type { InvocationResult } from '../../../apis/environment-link.ts';
import type { GatewayLogger } from './gateway-log.ts';
import type { ErrorCategory, GatewayMetrics, InvocationLabels } from './metrics.ts';
import { recordError, type Tracing } from './tracing.ts';

export interface ObservedTarget {
  namespace: string;
  name: string;
  /** The executed version. */
  version: string;
  /** What the caller named: an alias, a version or nothing. */
  qualifier?: string | undefined;
  memoryMB: number;
}

export interface ObservedCall {
  requestId: string;
  /** The X-Amzn-Trace-Id the invocation came with (a queued event keeps its caller's). */
  traceHeader?: string | undefined;
  /** Epoch ms an Event invocation was accepted; the wait since becomes the queue-wait span. */
  queuedSince?: number | undefined;
}

export class InvocationObserver {
  private readonly metrics: GatewayMetrics | undefined;
  private readonly tracing: Tracing;
  private readonly logger: GatewayLogger | undefined;

  constructor(deps: { metrics?: GatewayMetrics | undefined; tracing: Tracing; logger?: GatewayLogger }) {
    this.metrics = deps.metrics;
    this.tracing = deps.tracing;
    this.logger = deps.logger;
  }

  begin(target: ObservedTarget, call: ObservedCall): InvocationWatch {
    return new InvocationWatch(this.metrics, this.tracing, this.logger, target, call);
  }

  /** A recursive loop was stopped before `fn` ran again: say which function looped, and count it. */
  recursionStopped(fn: { namespace: string; name: string }, hops: number, requestId: string): void {
    this.metrics?.recursiveInvocationDropped(fn.namespace, fn.name);
    this.logger?.warn(`recursive loop stopped: function ${fn.namespace}/${fn.name} looped`, {
      namespace: fn.namespace,
      function: fn.name,
      hops,
      request_id: requestId,
    });
  }
}

export class InvocationWatch {
  private readonly metrics: GatewayMetrics | undefined;
  private readonly tracing: Tracing;
  private readonly logger: GatewayLogger | undefined;
  private readonly target: ObservedTarget;
  private readonly call: ObservedCall;
  private readonly labels: InvocationLabels;
  private throttled = false;

  constructor(
    metrics: GatewayMetrics | undefined,
    tracing: Tracing,
    logger: GatewayLogger | undefined,
    target: ObservedTarget,
    call: ObservedCall,
  ) {
    this.metrics = metrics;
    this.tracing = tracing;
    this.logger = logger;
    this.target = target;
    this.call = call;
    const { qualifier } = target;
    this.labels = {
      namespace: target.namespace,
      function: target.name,
      version: target.version,
      alias: qualifier && !/^(\$LATEST|[0-9]+)$/.test(qualifier) ? qualifier : '',
    };
  }

  /** Runs the whole invocation inside its `invoke` span and records how it ended. */
  async run<T extends { result: InvocationResult }>(fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const { namespace, name } = this.target;
    const parent = this.tracing.parentFor(this.call.traceHeader);
    if (this.call.queuedSince !== undefined) this.queueWait(parent, this.call.queuedSince);
    const span = this.tracing.startSpan(
      'invoke',
      {
        'faas.invoked_name': name,
        'faas.invocation_id': this.call.requestId,
        'serval.namespace': namespace,
        'serval.version': this.target.version,
        'serval.alias': this.labels.alias || undefined,
      },
      { parent },
    );
    try {
      const out = this.tracing.enabled
        ? await this.tracing.with(this.tracing.contextWith(span, parent), fn)
        : await fn();
      this.finished(span, out.result, (performance.now() - started) / 1000);
      return out;
    } catch (err) {
      recordError(span, err);
      if (!this.throttled) {
        this.metrics?.platformError(this.labels, (performance.now() - started) / 1000);
        this.logger?.warn('invocation did not run', {
          requestId: this.call.requestId,
          namespace,
          function: name,
          version: this.target.version,
          error: err instanceof Error ? err.message : String(err),
        });
      }
      throw err;
    } finally {
      span.end();
    }
  }

  /** Records the admission decision: a lease (counted as a concurrent execution) or a throttle reason. */
  admit<L extends { release(): void }>(lease: L | string): L | string {
    const admitted = typeof lease !== 'string';
    if (this.tracing.enabled) {
      const span = this.tracing.startSpan('admission', {
        'serval.admitted': admitted,
        'serval.throttle_reason': admitted ? undefined : lease,
      });
      span.end();
    }
    if (!admitted) {
      this.throttled = true;
      this.metrics?.throttled(this.labels, lease);
      return lease;
    }
    const given = this.metrics?.concurrencyTaken(this.labels);
    if (!given) return lease;
    return {
      ...lease,
      release: () => {
        lease.release();
        given();
      },
    };
  }

  /** Runs the hand-over to an environment (waiting for one, starting one, running) in the `dispatch` span. */
  dispatch<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.tracing.enabled) return fn();
    return this.tracing.span('dispatch', {}, fn);
  }

  private finished(span: Span, result: InvocationResult, latencySeconds: number): void {
    span.setAttributes({
      'serval.outcome': result.outcome,
      'faas.coldstart': result.initDurationMs !== undefined,
    });
    if (result.errorType) span.setAttribute('serval.error_type', result.errorType);
    if (!this.metrics) return;
    this.metrics.invocationFinished(this.labels, result, latencySeconds, this.target.memoryMB);
    this.metrics.runtimeReport(this.labels, result.initDurationMs, result.maxMemoryUsedMB);
    if (result.outcome === 'error')
      this.metrics.invocationError(this.labels, errorCategory(result.errorType));
  }

  private queueWait(parent: ReturnType<Tracing['active']>, queuedSince: number): void {
    const waitedSeconds = Math.max(0, (Date.now() - queuedSince) / 1000);
    this.metrics?.asyncEventAge(this.target.namespace, this.target.name, waitedSeconds);
    if (!this.tracing.enabled) return;
    const span = this.tracing.startSpan(
      'queue wait',
      { 'faas.invocation_id': this.call.requestId },
      { parent, startTime: queuedSince, kind: SpanKind.CONSUMER },
    );
    span.end();
  }
}

/** Lambda's error types in a closed set of categories; a function's own error names never become labels. */
export function errorCategory(errorType: string | undefined): ErrorCategory {
  if (errorType === 'Sandbox.Timedout') return 'timeout';
  if (errorType?.startsWith('Sandbox.')) return 'sandbox';
  if (errorType?.startsWith('Runtime.')) return 'runtime';
  return 'function';
}
