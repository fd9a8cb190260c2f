// The async worker's observability hooks, implemented with the gateway metrics: retries, events that
// finally failed, dead letters and failed destination deliveries, all per function.
import type { AsyncObserver } from '../async/async-worker.ts';
import type { AsyncRetryReason, DestinationKind, GatewayMetrics } from './metrics.ts';

const RETRY_REASON: Record<Parameters<AsyncObserver['retried']>[1], AsyncRetryReason> = {
  'function-error': 'function_error',
  throttled: 'throttle',
  'system-error': 'system_error',
};

const DESTINATION: Record<Parameters<AsyncObserver['destinationFailed']>[0], DestinationKind> = {
  onSuccess: 'on_success',
  onFailure: 'on_failure',
  deadLetter: 'dead_letter',
};

export function asyncMetricsObserver(metrics: GatewayMetrics): AsyncObserver {
  return {
    retried(event, reason) {
      metrics.asyncRetry(event.namespace, event.functionName, RETRY_REASON[reason]);
    },
    finished(event, condition) {
      if (condition === 'EventAgeExceeded')
        metrics.asyncEventDropped(event.namespace, event.functionName, 'event_age');
      if (condition === 'RetriesExhausted')
        metrics.asyncEventDropped(event.namespace, event.functionName, 'retries_exhausted');
    },
    deadLettered(event) {
      metrics.asyncDeadLetter(event.namespace, event.functionName);
    },
    destinationFailed(kind, event) {
      metrics.destinationFailed(event.namespace, event.functionName, DESTINATION[kind]);
    },
  };
}
