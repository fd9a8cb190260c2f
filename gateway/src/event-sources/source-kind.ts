// The contract every event source kind implements (docs/event-sources.md, "Adding a source kind"). A kind
// lives in gateway/src/event-sources/<kind>/ and knows only its broker: how to connect, receive records,
// build Lambda's event for a batch and settle each record. Everything else — batching window, batch size,
// the 6 MB cap, filters, admission and throttle backoff, partial batch responses, concurrency, status,
// metrics, on-failure destinations — is the mapping runtime's, the same for every kind. Rules on a kind's
// spec fields belong in apis/event-source-mapping.ts (with their CEL twin), so loader, API server and API agree.
import type {
  EventSourceMappingSpec,
  SourceKind as SourceKindName,
} from '../../../apis/event-source-mapping.ts';

/** One received message (or stream record) as the runtime handles it. */
export interface SourceRecord {
  /**
   * Lambda's `itemIdentifier` for this record in a partial batch response: the SQS messageId, a stream's
   * sequence number or offset. Unique within one batch.
   */
  readonly id: string;
  /** What filter patterns are matched against (metadata fields plus the decoded body under its data key). */
  readonly filterView: Record<string, unknown>;
  /** Bytes this record adds to the invoke payload (its JSON in the event), for the 6 MB cap. */
  readonly eventBytes: number;
  /**
   * The X-Ray header the record carries (SQS `AWSTraceHeader`): its Lineage continues the chain that sent
   * the message, so a loop through a queue is counted (lineage.ts).
   */
  readonly traceHeader?: string | undefined;
  /**
   * Records of one group are processed one batch at a time, in order, when the kind's `ordering` is
   * `per-group` (FIFO MessageGroupId, a Kafka partition). Absent: no ordering.
   */
  readonly group?: string | undefined;
  /** Epoch ms the broker accepted it (send-to-invoke latency, record age); absent when unknown. */
  readonly sentAt?: number | undefined;
  /** 1 on first delivery; more means a redelivery (counted as a possible duplicate). */
  readonly deliveryCount: number;
}

/** What happened to a batch the function was invoked with. A throttled batch never gets here: it is retried. */
export type BatchOutcome<R extends SourceRecord = SourceRecord> =
  /** Every record succeeded (including an empty or null batchItemFailures). */
  | { kind: 'success' }
  /** ReportBatchItemFailures named these records; the others succeeded. */
  | { kind: 'partial'; failed: readonly R[] }
  /** The whole batch failed: function error, invalid partial response, platform error or timeout. */
  | { kind: 'failure'; reason: FailureReason; errorType: string; message: string }
  /** The records matched no filter: Lambda deletes/acks/advances past them. */
  | { kind: 'filtered' };

export type FailureReason = 'function_error' | 'invalid_response' | 'platform_error';

/** Why records were discarded (Lambda's on-failure record `condition`). */
export type DiscardCondition = 'RetryAttemptsExhausted' | 'RecordAgeExceeded' | 'PayloadTooLarge';

/** What a kind decided after settling; omitted means nothing more to do. */
export interface SettleResult<R extends SourceRecord = SourceRecord> {
  /**
   * Records the kind gives up on (e.g. a redelivery limit reached): the runtime counts them as dropped and
   * sends Lambda's ESM failure record to `destinationConfig.onFailure` when there is one.
   */
  discarded?: { records: readonly R[]; condition: DiscardCondition; outcome: BatchOutcome<R> };
  /**
   * Records to invoke again at once, without receiving them again (a stream's retry or bisected half). The
   * runtime backs off between attempts.
   */
  retry?: readonly R[];
}

export interface Backlog {
  /** Messages waiting (visible) in the source. */
  messages?: number | undefined;
  /** Age of the oldest waiting message, in seconds. */
  oldestAgeSeconds?: number | undefined;
  /** Streams: records behind the committed offset, per partition (Lambda's OffsetLag). */
  partitions?: Record<string, number> | undefined;
}

/** What a kind is given for one mapping. */
export interface MappingContext {
  uuid: string;
  namespace: string;
  /** The mapping's name (manifest or CRD name). */
  name: string;
  spec: EventSourceMappingSpec;
  region: string;
  /**
   * Connection secrets (cluster: the Secret; local: the environment). Call it on every connect: a Secret
   * changed or created since is read again. Throws CredentialsError when they cannot be read.
   */
  credentials: () => Promise<Credentials>;
  log: (line: string) => void;
  /** Counts one API call to the broker by its operation (SQS bills per request): the kind calls it. */
  brokerRequest?: (operation: string) => void;
}

/** Credentials never live in manifest text: the runtime resolves them and hands them to the kind. */
export interface Credentials {
  /** A connection URL: the spec's, a `secretRef`'s value, or the gateway's own NATS for a NATS source without one. */
  url?: string | undefined;
  /** AWS access keys for SQS: a `credentialsSecretRef`'s, else the gateway's AWS_ACCESS_KEY_ID / … */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
}

/** The live side of one mapping's source: one per mapping, shared by its concurrent poll loops. */
export interface SourcePoller<R extends SourceRecord = SourceRecord> {
  /**
   * Connects, or reconnects after a loss. Throwing means the broker is unreachable: the runtime reports it
   * on the status, backs off and calls `connect` again. Called again only after `receive` threw.
   */
  connect(): Promise<void>;
  /**
   * One receive call: up to `max` records, waiting up to `waitMs` for the first (long poll). Resolves `[]`
   * when none came; throws when the connection is lost. Concurrent calls from several loops must be safe.
   * `signal` aborts a wait when the mapping stops.
   */
  receive(max: number, waitMs: number, signal: AbortSignal): Promise<R[]>;
  /** Lambda's event for a batch of this kind (`{Records:[…]}` for SQS, `rmqMessagesByQueue` for MQ, …). */
  buildEvent(records: readonly R[]): unknown;
  /**
   * The same event as JSON, when the kind can join records it serialized already (record-json.ts); without
   * it the runtime stringifies `buildEvent`'s result.
   */
  eventPayload?(records: readonly R[]): Buffer;
  /**
   * Settles a batch after its outcome: ack what succeeded or was filtered, release what failed so the
   * broker redelivers it (or its own redrive policy dead-letters it). The kind decides how, and may ask for
   * a retry or discard records (SettleResult). Never called before the function's outcome is known.
   */
  settle(records: readonly R[], outcome: BatchOutcome<R>): Promise<SettleResult<R> | undefined>;
  /**
   * How long a received record stays leased to the mapping (SQS visibility timeout, NATS ack wait). A batch
   * received ahead that waited half of it is dropped rather than invoked (its records come back).
   */
  leaseMs?(): number;
  /** Keeps records leased while a throttled batch waits to be invoked (SQS visibility, NATS in-progress). */
  extendLease?(records: readonly R[]): Promise<void>;
  /**
   * The batch info block of Lambda's on-failure record for discarded records, e.g.
   * `{"NatsBatchInfo": {stream, consumer, firstSequence, …}}` (reference §14.1).
   */
  failureBatchInfo?(records: readonly R[]): Record<string, unknown>;
  /** The broker's backlog, polled for metrics and the backlog alert. */
  backlog?(): Promise<Backlog>;
  /** Closes the connection; records received and not settled go back to the broker by its own rules. */
  close(): Promise<void>;
}

/** One source kind: a folder gateway/src/event-sources/<kind>/ whose index.ts exports one of these. */
export interface SourceKind<R extends SourceRecord = SourceRecord> {
  readonly kind: SourceKindName;
  /** The key filter patterns put the payload under: `body` (SQS), `data` (MQ, NATS), `value` (Kafka). */
  readonly dataKey: string;
  /** Lambda's per-source defaults, applied when the spec leaves them out (reference §10.1). */
  readonly defaults: { batchSize: number; batchingWindowMs: number };
  /** Most records one `receive` call returns (SQS 10); the runtime calls again to fill larger batches. */
  readonly maxPerReceive: number;
  /** `per-group`: at most one batch per group in flight, across all of the mapping's loops. */
  readonly ordering: 'none' | 'per-group';
  /**
   * One `receive` returns one whole batch (the kind applies size, window and payload cap itself, as a stream
   * does to keep a batch within one partition); the runtime invokes it as it is.
   */
  readonly assemblesBatches?: boolean;
  /** The ARN-like identifier of the source, for `EventSourceArn` in the API and the failure record. */
  sourceArn(spec: EventSourceMappingSpec, region: string, namespace: string): string;
  open(context: MappingContext): SourcePoller<R>;
}
