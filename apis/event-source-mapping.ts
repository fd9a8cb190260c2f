// The serval.dev/v1alpha1 EventSourceMapping schema: a poller that reads a queue, stream or schedule and invokes
// a function with batches (Lambda's CreateEventSourceMapping, reference §10). Schema only; pollers live in the gateway.
import { z } from 'zod';
import { DestinationSchema } from './async-config.ts';
import { filterProblems } from './event-filter.ts';
import { API_VERSION } from './function.ts';
import { parseScheduleExpression } from './schedule-expression.ts';
import { isTimeZone } from './time-zone.ts';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** `host:port`, as in Lambda's KAFKA_BOOTSTRAP_SERVERS endpoints. */
const HOST_PORT = /^[A-Za-z0-9.-]+:[0-9]{1,5}$/;
/** Kafka's own topic rule (legal characters, at most 249 of them). */
const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;
/** JetStream stream and consumer names may not contain whitespace, `.`, `*`, `>` or path separators. */
const JETSTREAM_NAME = /^[^\s.*>/\\]{1,255}$/;
/**
 * The shape of EventBridge's schedule expressions, for the CRD's pattern: `rate(1 minute)`, `rate(5 hours)`, or
 * six cron fields of the characters each field allows. parseScheduleExpression checks the rest.
 */
const SCHEDULE =
  /^(rate\((1 (minute|hour|day)|[1-9][0-9]{0,6} (minutes|hours|days))\)|cron\([0-9,*/-]+ [0-9,*/-]+ [0-9,*/?LW-]+ [0-9A-Za-z,*/-]+ [0-9A-Za-z,*/?L#-]+ [0-9,*/-]+\))$/;

/** A key of a Secret in the mapping's namespace (connection URLs carry credentials, so they can live there). */
const SecretKeyRefSchema = z
  .object({
    name: z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a Secret name'),
    key: z
      .string()
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/)
      .default('url'),
  })
  .strict();

const kafka = z
  .object({
    bootstrapServers: z.array(z.string().max(260).regex(HOST_PORT, 'must be host:port')).min(1).max(100),
    topic: z.string().regex(KAFKA_TOPIC, 'must be a Kafka topic name'),
    /** Lambda's ConsumerGroupId (1–200 characters); defaults to one derived from the mapping. */
    consumerGroup: z.string().min(1).max(200).optional(),
  })
  .strict();

const rabbitmq = z
  .object({
    /** `amqp://user:pass@host:5672/vhost`; prefer `secretRef` for anything with a password in it. */
    url: z
      .url({ protocol: /^amqps?$/ })
      .max(2048)
      .optional(),
    secretRef: SecretKeyRefSchema.optional(),
    queue: z.string().min(1).max(255),
  })
  .strict()
  .refine((r) => (r.url === undefined) !== (r.secretRef === undefined), {
    message: 'needs exactly one of url, secretRef',
  });

/**
 * A Secret in the mapping's namespace holding AWS access keys under `accessKeyId`, `secretAccessKey` and,
 * for temporary keys, `sessionToken` (Lambda would use the function's execution role; Serval has no IAM).
 */
const AwsKeysSecretRefSchema = z
  .object({ name: z.string().max(253).regex(DNS_SUBDOMAIN, 'must be a Secret name') })
  .strict();

const sqs = z
  .object({
    queueUrl: z.url({ protocol: /^https?$/ }).max(2048),
    /** Absent: the gateway's own AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
    credentialsSecretRef: AwsKeysSecretRefSchema.optional(),
  })
  .strict();

const nats = z
  .object({
    /** Defaults to the gateway's NATS (SERVAL_NATS_URL). */
    url: z
      .url({ protocol: /^(nats|tls|wss?)$/ })
      .max(2048)
      .optional(),
    /** The URL in a Secret instead, for one with credentials (`nats://user:pass@host:4222`, `nats://token@host`). */
    secretRef: SecretKeyRefSchema.optional(),
    subject: z
      .string()
      .max(255)
      .regex(/^[^\s]+$/, 'must be a NATS subject (no whitespace)'),
    /** Read through JetStream (durable, with starting positions) instead of core NATS. */
    stream: z.string().regex(JETSTREAM_NAME, 'must be a JetStream stream name').optional(),
    consumer: z.string().regex(JETSTREAM_NAME, 'must be a JetStream consumer name').optional(),
  })
  .strict()
  .refine((n) => n.consumer === undefined || n.stream !== undefined, {
    path: ['consumer'],
    message: 'needs stream',
  })
  .refine((n) => n.url === undefined || n.secretRef === undefined, {
    message: 'takes at most one of url, secretRef',
  });

const schedule = z
  .object({
    expression: z
      .string()
      .max(256)
      .regex(SCHEDULE, 'must be rate(<n> <minute(s)|hour(s)|day(s)>) or cron(<six fields>)')
      .superRefine((expression, ctx) => {
        const parsed = parseScheduleExpression(expression);
        if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.reason });
      }),
    /** IANA time zone the cron fields are read in (EventBridge Scheduler's ScheduleExpressionTimezone); UTC by default. */
    timezone: z
      .string()
      .max(64)
      .regex(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/, 'must be an IANA time zone name')
      .refine(isTimeZone, 'is not a time zone this runtime knows (IANA name, e.g. Europe/Berlin)')
      .optional(),
  })
  .strict();

export const SOURCE_KINDS = ['kafka', 'rabbitmq', 'sqs', 'nats', 'schedule'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** Where records come from: exactly one kind. */
export const EventSourceSchema = z
  .object({
    kafka: kafka.optional(),
    rabbitmq: rabbitmq.optional(),
    sqs: sqs.optional(),
    nats: nats.optional(),
    schedule: schedule.optional(),
  })
  .strict()
  .refine((s) => SOURCE_KINDS.filter((k) => s[k] !== undefined).length === 1, {
    message: `needs exactly one of ${SOURCE_KINDS.join(', ')}`,
  });

/**
 * Lambda's batch size and batching window when a mapping leaves them out (reference §10.1): SQS 10 and 0;
 * MQ and Kafka 100 and 500 ms. NATS follows the brokers; a schedule fires one event.
 */
export const DEFAULT_BATCHING: Record<SourceKind, { batchSize: number; batchingWindowMs: number }> = {
  sqs: { batchSize: 10, batchingWindowMs: 0 },
  rabbitmq: { batchSize: 100, batchingWindowMs: 500 },
  kafka: { batchSize: 100, batchingWindowMs: 500 },
  nats: { batchSize: 100, batchingWindowMs: 500 },
  schedule: { batchSize: 1, batchingWindowMs: 0 },
};

/** Sources that have positions to start from (Lambda: streams and Kafka). */
const POSITIONED_SOURCES: readonly SourceKind[] = ['kafka', 'nats'];

export const EventSourceMappingSpecSchema = z
  .object({
    /** A Function in the mapping's namespace. */
    functionName: z.string().max(64).regex(DNS_LABEL, 'must be a Function name'),
    /** `$LATEST`, a version number or an alias; unqualified means `$LATEST`. */
    qualifier: z
      .string()
      .max(128)
      .regex(/^(\$LATEST|[a-zA-Z0-9-_]{1,128})$/)
      .optional(),
    source: EventSourceSchema,
    /** Lambda's per-source default when absent: SQS 10, MQ/Kafka/NATS 100 (reference §10.1). */
    batchSize: z.number().int().min(1).max(10000).optional(),
    /** Absent: 0 for SQS, 500 ms for MQ, Kafka and NATS (a default that cannot be set explicitly). */
    maximumBatchingWindowSeconds: z.number().int().min(0).max(300).optional(),
    startingPosition: z.enum(['TRIM_HORIZON', 'LATEST', 'AT_TIMESTAMP']).optional(),
    /** RFC 3339; required with, and only with, `AT_TIMESTAMP`. */
    startingPositionTimestamp: z.iso.datetime({ offset: true }).optional(),
    bisectBatchOnFunctionError: z.boolean().default(false),
    /** Batches per partition at once, order kept per record key (Lambda: Kinesis/DynamoDB; here Kafka). */
    parallelizationFactor: z.number().int().min(1).max(10).optional(),
    /** -1 retries until the record expires. */
    maximumRetryAttempts: z.number().int().min(-1).max(10000).default(-1),
    /** -1 keeps records forever; otherwise 60 s to 7 days. */
    maximumRecordAgeSeconds: z
      .number()
      .int()
      .min(-1)
      .max(604800)
      .refine((s) => s === -1 || s >= 60, 'must be -1 or from 60 to 604800')
      .default(-1),
    functionResponseTypes: z
      .array(z.enum(['ReportBatchItemFailures']))
      .max(1)
      .optional(),
    /** EventBridge-style patterns (reference §10.3); a record is delivered when any filter matches. */
    filterCriteria: z
      .object({
        filters: z
          .array(z.object({ pattern: z.string().min(1).max(4096) }).strict())
          .max(5)
          .default([]),
      })
      .strict()
      .superRefine((criteria, ctx) => {
        for (const p of filterProblems(criteria)) {
          // The field inside the pattern leads the message: `body.price[0].numeric: must be …`.
          const message = p.field ? `${p.field}: ${p.reason}` : p.reason;
          ctx.addIssue({ code: 'custom', path: ['filters', p.filter, 'pattern'], message });
        }
      })
      .optional(),
    destinationConfig: z.object({ onFailure: DestinationSchema.optional() }).strict().optional(),
    scalingConfig: z
      .object({ maximumConcurrency: z.number().int().min(2).max(1000).optional() })
      .strict()
      .optional(),
    enabled: z.boolean().default(true),
  })
  .strict()
  .refine((s) => (s.startingPosition === 'AT_TIMESTAMP') === (s.startingPositionTimestamp !== undefined), {
    path: ['startingPositionTimestamp'],
    message: 'is required with, and only with, startingPosition AT_TIMESTAMP',
  })
  .refine((s) => s.parallelizationFactor === undefined || s.source.kafka !== undefined, {
    path: ['parallelizationFactor'],
    message: 'applies only to kafka sources',
  })
  .refine((s) => s.source.kafka === undefined || s.startingPosition !== undefined, {
    path: ['startingPosition'],
    message: 'is required for kafka sources (TRIM_HORIZON, LATEST or AT_TIMESTAMP)',
  })
  .refine(
    (s) => s.startingPosition === undefined || POSITIONED_SOURCES.some((k) => s.source[k] !== undefined),
    { path: ['startingPosition'], message: `applies only to ${POSITIONED_SOURCES.join(' and ')} sources` },
  )
  .refine((s) => !s.source.sqs || (s.batchSize ?? 10) <= 10 || (s.maximumBatchingWindowSeconds ?? 0) >= 1, {
    path: ['maximumBatchingWindowSeconds'],
    message: 'must be at least 1 when an SQS batchSize is above 10',
  })
  .refine((s) => !s.source.sqs?.queueUrl.endsWith('.fifo') || (s.batchSize ?? 10) <= 10, {
    path: ['batchSize'],
    message: 'must be at most 10 for a FIFO queue',
  })
  .refine((s) => s.scalingConfig === undefined || s.source.sqs !== undefined, {
    path: ['scalingConfig'],
    message: 'applies only to sqs sources',
  });

export const EventSourceMappingSchema = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('EventSourceMapping'),
    metadata: z
      .object({
        name: z.string().max(63).regex(DNS_LABEL, 'must be lower-case letters, digits and "-" (DNS-1123)'),
        namespace: z.string().max(63).default('default'),
      })
      .loose(),
    spec: EventSourceMappingSpecSchema,
  })
  .loose();

export type EventSourceMappingResource = z.infer<typeof EventSourceMappingSchema>;
export type EventSourceMappingSpec = z.infer<typeof EventSourceMappingSpecSchema>;
export type EventSource = z.infer<typeof EventSourceSchema>;

/** The one kind a valid source names. */
export function sourceKind(source: EventSource): SourceKind {
  const kind = SOURCE_KINDS.find((k) => source[k] !== undefined);
  if (kind === undefined) throw new Error('event source names no kind');
  return kind;
}
