// The control-plane API's cluster half: handlers that write Function and Alias resources (ADR-39, ADR-45)
// and the layer store of ConfigMaps (ADR-46). A cluster gateway loads it at start-up; local mode never
// does, because it brings the Kubernetes client (about 17 MB of source) with it.
import type { Request, Response } from 'express';
import type { KubernetesWrites } from '../../registry/kubernetes-writes.ts';
import type { LayerVersions } from '../../registry/layer-store.ts';
import { clusterOperations } from './cluster-function-handlers.ts';
import { ClusterLayerStore } from './cluster-layers.ts';
import type { FunctionChanges } from './function-changes.ts';

export interface ClusterApi {
  layers: LayerVersions;
  /** The cluster's handler of each operation it writes, by operation name. */
  operations(changes: FunctionChanges): Partial<Record<string, (req: Request, res: Response) => unknown>>;
}

export function clusterApi(writes: KubernetesWrites, dataDir: string): ClusterApi {
  return {
    layers: new ClusterLayerStore(writes.kc, dataDir),
    operations: (changes) => clusterOperations(changes, writes),
  };
}
