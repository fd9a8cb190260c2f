// A mapping as the runtime knows it — wherever it came from (a manifest, the mapping API, the CRD) — and its
// status in Lambda's words (State, StateTransitionReason, LastProcessingResult) plus Kubernetes conditions.
import type { EventSourceMappingSpec, SourceKind } from '../../../apis/event-source-mapping.ts';

export interface MappingDefinition {
  /** Lambda's UUID: the CRD's metadata.uid in a cluster; stable per manifest name locally. */
  uuid: string;
  namespace: string;
  /** Manifest or CRD name; API-created mappings get one from their function and UUID. */
  name: string;
  spec: EventSourceMappingSpec;
  /** Where it was declared, for messages; `api` mappings can be changed through the API. */
  origin: 'manifest' | 'api' | 'kubernetes';
  /** The CRD's metadata.generation (observedGeneration); 0 locally. */
  generation: number;
  /** Epoch ms of the last change of the spec (Lambda's LastModified). */
  lastModified: number;
}

export type MappingState =
  | 'Creating'
  | 'Enabling'
  | 'Enabled'
  | 'Disabling'
  | 'Disabled'
  | 'Updating'
  | 'Deleting';

export interface MappingCondition {
  type: 'Ready' | 'SourceConnected';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

export interface MappingStatus {
  uuid: string;
  sourceKind: SourceKind;
  state: MappingState;
  stateTransitionReason: string;
  /** Lambda's words: `No records processed`, `OK`, `PROBLEM: …`. */
  lastProcessingResult: string;
  conditions: MappingCondition[];
  observedGeneration: number;
  /** Schedules: the next fire times, ISO-8601 UTC, as of when the status was read. */
  nextFireTimes?: string[];
}

/** A change worth an Event in a cluster: the broker lost or back, the function missing. */
export interface StatusEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export type StatusListener = (mapping: MappingDefinition, status: MappingStatus, event?: StatusEvent) => void;

/** Lambda's per-source defaults (reference §10.1), resolved for a spec. */
export function batchingOf(
  spec: EventSourceMappingSpec,
  defaults: { batchSize: number; batchingWindowMs: number },
): { batchSize: number; windowMs: number } {
  return {
    batchSize: spec.batchSize ?? defaults.batchSize,
    windowMs:
      spec.maximumBatchingWindowSeconds === undefined
        ? defaults.batchingWindowMs
        : spec.maximumBatchingWindowSeconds * 1000,
  };
}
