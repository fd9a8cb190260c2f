// Turns Create/UpdateEventSourceMapping request bodies into a mapping spec, validated by the same schema as
// manifests and the CRD, with every problem reported as InvalidParameterValueException naming Lambda's field.
import type { z } from 'zod';
import type { Destination } from '../../../../apis/async-config.ts';
import { ApiError } from '../../../../apis/errors.ts';
import {
  type EventSourceMappingSpec,
  EventSourceMappingSpecSchema,
} from '../../../../apis/event-source-mapping.ts';
import { sourceFromWire, type WireSource } from './wire-source.ts';

/** Spec field → Lambda's request field, for error messages. */
const WIRE_FIELD: Record<string, string> = {
  functionName: 'FunctionName',
  qualifier: 'FunctionName',
  source: 'EventSourceArn',
  batchSize: 'BatchSize',
  maximumBatchingWindowSeconds: 'MaximumBatchingWindowInSeconds',
  startingPosition: 'StartingPosition',
  startingPositionTimestamp: 'StartingPositionTimestamp',
  bisectBatchOnFunctionError: 'BisectBatchOnFunctionError',
  maximumRetryAttempts: 'MaximumRetryAttempts',
  parallelizationFactor: 'ParallelizationFactor',
  maximumRecordAgeSeconds: 'MaximumRecordAgeInSeconds',
  functionResponseTypes: 'FunctionResponseTypes',
  filterCriteria: 'FilterCriteria',
  filters: 'Filters',
  pattern: 'Pattern',
  destinationConfig: 'DestinationConfig',
  onFailure: 'OnFailure',
  scalingConfig: 'ScalingConfig',
  maximumConcurrency: 'MaximumConcurrency',
  enabled: 'Enabled',
  sqs: '',
  rabbitmq: 'Queues',
  nats: 'Topics',
  kafka: 'Topics',
  topic: '',
  bootstrapServers: 'SelfManagedEventSource',
  queueUrl: '',
  queue: '',
  subject: '',
};

export type RequestBody = WireSource & Record<string, unknown>;

/** The spec fields a request sets; a field it leaves out keeps `current`'s value (UpdateEventSourceMapping). */
export function specFromRequest(
  body: RequestBody,
  target: { name: string; qualifier?: string | undefined },
  current?: EventSourceMappingSpec,
): EventSourceMappingSpec {
  const source = current?.source ?? sourceFromWire(body);
  if (!source) {
    throw invalid(
      'EventSourceArn',
      'must be an SQS queue ARN or URL, an amqp:// broker URL (with Queues) or a nats:// URL (with Topics); or give SelfManagedEventSource (with Topics) for Kafka',
    );
  }
  const filters = body.FilterCriteria as { Filters?: Array<{ Pattern?: unknown }> } | undefined;
  const scaling = body.ScalingConfig as { MaximumConcurrency?: unknown } | undefined;
  const onFailure = (body.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)
    ?.OnFailure;
  const candidate: Record<string, unknown> = {
    ...current,
    functionName: target.name,
    qualifier: target.qualifier,
    source,
    ...defined({
      enabled: body.Enabled,
      batchSize: body.BatchSize,
      maximumBatchingWindowSeconds: body.MaximumBatchingWindowInSeconds,
      startingPosition: body.StartingPosition,
      startingPositionTimestamp: timestamp(body.StartingPositionTimestamp),
      bisectBatchOnFunctionError: body.BisectBatchOnFunctionError,
      maximumRetryAttempts: body.MaximumRetryAttempts,
      parallelizationFactor: body.ParallelizationFactor,
      maximumRecordAgeSeconds: body.MaximumRecordAgeInSeconds,
      functionResponseTypes: body.FunctionResponseTypes,
    }),
  };
  if (filters !== undefined) {
    candidate.filterCriteria =
      filters.Filters && filters.Filters.length > 0
        ? { filters: filters.Filters.map((f) => ({ pattern: f?.Pattern })) }
        : undefined;
  }
  if (scaling !== undefined) {
    candidate.scalingConfig =
      scaling.MaximumConcurrency === undefined
        ? undefined
        : { maximumConcurrency: scaling.MaximumConcurrency };
  }
  if (onFailure !== undefined) {
    candidate.destinationConfig =
      typeof onFailure.Destination === 'string' && onFailure.Destination !== ''
        ? { onFailure: destinationFromArn(onFailure.Destination) }
        : undefined;
  }
  const parsed = EventSourceMappingSpecSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(wirePath(issue), issue.message);
  }
  return parsed.data;
}

/**
 * An on-failure destination as Lambda names it (an ARN or URL): a function ARN or name, an http(s) URL, or
 * `nats:<subject>`.
 */
export function destinationFromArn(arn: string): Destination {
  if (/^https?:\/\//.test(arn)) return { http: { url: arn } };
  if (arn.startsWith('nats:')) return { nats: { subject: arn.slice('nats:'.length) } };
  return { function: arn };
}

export function destinationToArn(d: Destination): string {
  if (d.http) return d.http.url;
  if (d.nats) return `nats:${d.nats.subject}`;
  return d.function ?? '';
}

export function invalid(field: string, message: string): ApiError {
  return new ApiError('InvalidParameterValueException', `${field}: ${message}`);
}

function wirePath(issue: z.core.$ZodIssue): string {
  const parts: string[] = [];
  for (const p of issue.path) {
    if (typeof p === 'number') parts.push(`[${p}]`);
    else {
      const name = WIRE_FIELD[String(p)] ?? String(p);
      if (name !== '') parts.push(parts.length === 0 ? name : `.${name}`);
    }
  }
  return parts.join('').replace(/^\./, '') || 'EventSourceArn';
}

/** Lambda's timestamps arrive as epoch seconds (the CLI) or ISO text. */
function timestamp(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return new Date(value * 1000).toISOString();
  return String(value);
}

function defined(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));
}
