// What an environment pool reports: environment starts (the cold-start span and start metrics) and each
// run on an environment (the runtime span, whose id the function receives as its X-Ray Parent).
import { SpanKind } from '@opentelemetry/api';
import type { InvocationRequest } from '../../../apis/environment-link.ts';
import type { InvocationOutput } from '../runtime-link/agent-connection.ts';
import type { EnvironmentStartOutcome, GatewayMetrics } from './metrics.ts';
import { newXRayHeader } from './trace-context.ts';
import { recordError, Tracing } from './tracing.ts';

export interface PoolIdentity {
  namespace: string;
  functionName: string;
  version: string;
  runtime: string;
}

export interface DispatchObserver {
  /** An environment is being started for `pool`; call the result once it is ready or has failed. */
  environmentStarting(
    pool: PoolIdentity,
    environmentId: string,
  ): (outcome: EnvironmentStartOutcome, reason?: string) => void;
  /** Runs one invocation on an environment; `run` receives the request with the function's trace header. */
  runtime(
    invocation: InvocationRequest,
    environmentId: string,
    run: (invocation: InvocationRequest) => Promise<InvocationOutput>,
  ): Promise<InvocationOutput>;
}

export function dispatchObserver(
  metrics: GatewayMetrics | undefined,
  tracing: Tracing = Tracing.off(),
): DispatchObserver {
  return {
    environmentStarting(pool, environmentId) {
      const started = performance.now();
      const span = tracing.startSpan('cold start', {
        'serval.environment_id': environmentId,
        'faas.invoked_name': pool.functionName,
        'serval.runtime': pool.runtime,
      });
      let ended = false;
      return (outcome, reason) => {
        if (ended) return;
        ended = true;
        const labels = { namespace: pool.namespace, function: pool.functionName, version: pool.version };
        metrics?.environmentStarted(labels, outcome, (performance.now() - started) / 1000);
        if (outcome === 'failed') recordError(span, new Error(reason ?? 'environment failed to start'));
        span.end();
      };
    },

    async runtime(invocation, environmentId, run) {
      const started = Date.now();
      const span = tracing.startSpan(
        'runtime',
        { 'faas.invocation_id': invocation.requestId, 'serval.environment_id': environmentId },
        { kind: SpanKind.CLIENT },
      );
      const traceId = tracing.functionTraceHeader(span, invocation.traceId ?? newXRayHeader());
      try {
        const output = await run({ ...invocation, traceId });
        const { result } = output;
        span.setAttributes({
          'serval.duration_ms': result.durationMs,
          'serval.billed_duration_ms': result.billedDurationMs,
          'serval.max_memory_used_mb': result.maxMemoryUsedMB,
        });
        if (result.outcome === 'error') recordError(span, new Error(result.errorType ?? 'function error'));
        // The runtime's init runs first inside the environment; REPORT gives its length.
        if (result.initDurationMs !== undefined && tracing.enabled) {
          const init = tracing.startSpan(
            'init',
            {},
            { parent: tracing.contextWith(span), startTime: started },
          );
          init.end(started + result.initDurationMs);
        }
        return output;
      } catch (err) {
        recordError(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  };
}
