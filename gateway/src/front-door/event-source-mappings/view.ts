// A mapping as Lambda's API shows it (EventSourceMappingConfiguration).
import { DEFAULT_BATCHING, sourceKind } from '../../../../apis/event-source-mapping.ts';
import type { MappingDefinition, MappingState, MappingStatus } from '../../event-sources/mapping.ts';
import { batchingOf } from '../../event-sources/mapping.ts';
import { functionArn } from '../../registry/function-definition.ts';
import { destinationToArn } from './request.ts';
import { sourceToWire } from './wire-source.ts';

export function mappingView(
  region: string,
  m: MappingDefinition,
  status: MappingStatus | undefined,
  state?: MappingState,
): Record<string, unknown> {
  const { spec } = m;
  const kind = sourceKind(spec.source);
  const batching = batchingOf(spec, DEFAULT_BATCHING[kind]);
  return {
    UUID: m.uuid,
    EventSourceMappingArn: `arn:serval:lambda:${region}:${m.namespace}:event-source-mapping:${m.uuid}`,
    ...sourceToWire(spec.source),
    FunctionArn: functionArn(region, m.namespace, spec.functionName, spec.qualifier),
    BatchSize: batching.batchSize,
    MaximumBatchingWindowInSeconds: Math.floor(batching.windowMs / 1000),
    ...(spec.startingPosition ? { StartingPosition: spec.startingPosition } : {}),
    ...(spec.startingPositionTimestamp
      ? { StartingPositionTimestamp: Date.parse(spec.startingPositionTimestamp) / 1000 }
      : {}),
    ...(spec.filterCriteria && spec.filterCriteria.filters.length > 0
      ? { FilterCriteria: { Filters: spec.filterCriteria.filters.map((f) => ({ Pattern: f.pattern })) } }
      : {}),
    FunctionResponseTypes: spec.functionResponseTypes ?? [],
    ...(spec.scalingConfig?.maximumConcurrency
      ? { ScalingConfig: { MaximumConcurrency: spec.scalingConfig.maximumConcurrency } }
      : {}),
    ...(spec.destinationConfig?.onFailure
      ? {
          DestinationConfig: {
            OnFailure: { Destination: destinationToArn(spec.destinationConfig.onFailure) },
          },
        }
      : {}),
    ...(kind === 'kafka' || kind === 'nats'
      ? {
          MaximumRetryAttempts: spec.maximumRetryAttempts,
          MaximumRecordAgeInSeconds: spec.maximumRecordAgeSeconds,
          BisectBatchOnFunctionError: spec.bisectBatchOnFunctionError,
        }
      : {}),
    ...(kind === 'kafka' ? { ParallelizationFactor: spec.parallelizationFactor ?? 1 } : {}),
    LastModified: m.lastModified / 1000,
    LastProcessingResult: status?.lastProcessingResult ?? 'No records processed',
    State: state ?? status?.state ?? (spec.enabled ? 'Enabled' : 'Disabled'),
    StateTransitionReason: status?.stateTransitionReason ?? 'USER_INITIATED',
    // Not in Lambda's shape (EventBridge keeps schedules): when a schedule mapping fires next.
    ...(status?.nextFireTimes ? { NextFireTimes: status.nextFireTimes } : {}),
  };
}
