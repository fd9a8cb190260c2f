// The metrics and tracing hooks the mapping runtime calls; metrics.ts implements them with prom-client.
// Labels per mapping are bounded: namespace, function, the mapping's name and its source kind.
import type { SourceKind } from '../../../apis/event-source-mapping.ts';
import type { Backlog } from './source-kind.ts';

export interface MappingLabels {
  namespace: string;
  function: string;
  mapping: string;
  kind: SourceKind;
}

export interface EventSourceObserver {
  /** Records received from the broker (before filtering); `redelivered` of them were delivered before. */
  polled(labels: MappingLabels, count: number, redelivered: number): void;
  /** Records that matched no filter and were settled without an invocation. */
  filtered(labels: MappingLabels, count: number): void;
  /** A batch sent to the function; `sendToInvokeMs` for each record with a known send time. */
  invoked(labels: MappingLabels, batchSize: number, sendToInvokeMs: readonly number[]): void;
  /** Records the function failed (returned to the broker). */
  failed(labels: MappingLabels, count: number): void;
  /** Records given up on (redelivery limit, payload too large) and sent to onFailure if set. */
  dropped(labels: MappingLabels, count: number): void;
  /** A batch the account or reserved concurrency refused; it waits and is tried again. */
  throttled(labels: MappingLabels): void;
  /** The broker was reachable (1) or not (0). */
  connected(labels: MappingLabels, up: boolean): void;
  backlog(labels: MappingLabels, backlog: Backlog): void;
  /** One API call to the broker (e.g. SQS ReceiveMessage, DeleteMessageBatch). */
  brokerRequest(labels: MappingLabels, operation: string): void;
  /** The mapping is gone: its series are removed. */
  removed(labels: MappingLabels): void;
}

export const NO_OBSERVER: EventSourceObserver = {
  polled() {},
  filtered() {},
  invoked() {},
  failed() {},
  dropped() {},
  throttled() {},
  connected() {},
  backlog() {},
  brokerRequest() {},
  removed() {},
};
