// A layer version in a cluster (ADR-46): one immutable ConfigMap in the layer's namespace, holding the
// unpacked files under numbered keys and a list of where each goes, so paths are free of ConfigMap key rules
// (`@scope/pkg` in node_modules). The gateway writes it; the controller reads it to build a pod's /opt.
import { createHash } from 'node:crypto';
import { LAYER_VERSION_ARN } from '../apis/function.ts';
import type { LayerVersionRecord } from '../gateway/src/registry/layer-store.ts';

/** A hash of the layer's name: label values cannot hold every layer name (64 characters, leading `_`). */
export const LABEL_LAYER = 'serval.dev/layer';
export const LABEL_LAYER_VERSION = 'serval.dev/layer-version';
/** DeleteLayerVersion: the object stays for the functions using it, and keeps its number taken. */
export const LABEL_LAYER_DELETED = 'serval.dev/layer-deleted';
/** Lambda's metadata of the version, JSON (LayerAnnotation). */
export const ANNOTATION_LAYER = 'serval.dev/layer';
/** The version's permission policy, JSON: `{ permissions, revisionId }`. */
export const ANNOTATION_LAYER_POLICY = 'serval.dev/layer-policy';
/** The data key listing the files (LayerFile[]). */
export const LAYER_FILES_KEY = 'serval-layer-files.json';

/** The version's record as the annotation keeps it: its namespace is the object's, its policy annotated apart. */
export type LayerAnnotation = Omit<
  LayerVersionRecord,
  'namespace' | 'permissions' | 'policyRevisionId' | 'resourceVersion'
>;

/** Asks the API server for objects' metadata only: a layer's annotations say all but its files. */
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
export const METADATA_LIST_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
/** The runtime image's own directory under /opt: a layer may not cover it in a pod. */
export const AGENT_ENTRY = 'serval';

/** One file of the layer: the key holding it and its path below /opt. */
export interface LayerFile {
  key: string;
  path: string;
  executable?: boolean;
}

export interface LayerConfigMap {
  metadata?: {
    name?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data?: Record<string, string>;
  binaryData?: Record<string, string>;
}

export function layerLabel(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 40);
}

/** Deterministic, so two publishers of one number collide on create and one of them takes the next. */
export function layerConfigMapName(name: string, version: number): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/^-+|-+$/g, '');
  return `serval-layer-${slug ? `${slug}-` : ''}${layerLabel(name).slice(0, 8)}-v${version}`;
}

/** Where a layer version ARN's ConfigMap is. */
export function layerOfArn(arn: string): { namespace: string; name: string; version: number } | undefined {
  const m = LAYER_VERSION_ARN.exec(arn);
  return m ? { namespace: m[2]!, name: m[4]!, version: Number(m[5]) } : undefined;
}

export function layerAnnotation(cm: LayerConfigMap): LayerAnnotation | undefined {
  try {
    return JSON.parse(cm.metadata?.annotations?.[ANNOTATION_LAYER] ?? '') as LayerAnnotation;
  } catch {
    return undefined;
  }
}

export function layerFiles(cm: LayerConfigMap): LayerFile[] {
  try {
    return JSON.parse(cm.data?.[LAYER_FILES_KEY] ?? '[]') as LayerFile[];
  } catch {
    return [];
  }
}
