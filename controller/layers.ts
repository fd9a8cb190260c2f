// A function's layers in its pods (ADR-46): each layer version is an immutable ConfigMap the gateway wrote
// (kube/layer-configmaps.ts). The pod gets them as one read-only projected volume, each path taken from the
// last layer that has it (Lambda extracts layers into /opt in order, a later one's files over an earlier
// one's), mounted at /opt/<entry> for each top-level entry: /opt itself holds the agent (/opt/serval).
import type { KubeConfig, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { FunctionSpec } from '../apis/function.ts';
import {
  AGENT_ENTRY,
  type LayerConfigMap,
  type LayerFile,
  layerAnnotation,
  layerConfigMapName,
  layerFiles,
  layerOfArn,
  METADATA_ONLY,
} from '../kube/layer-configmaps.ts';
import { KubeError, requestJson } from '../kube/request.ts';
import { CodeError } from './code.ts';

export interface ResolvedLayer {
  configMap: string;
  files: LayerFile[];
}

/** Each layer ConfigMap's file list by uid: the object never changes, and a pod's start should not move it. */
export class LayerFileLists {
  private readonly lists = new Map<string, LayerFile[]>();

  async of(kc: KubeConfig, path: string, uid: string): Promise<LayerFile[]> {
    const known = this.lists.get(uid);
    if (known) return known;
    const files = layerFiles((await requestJson(kc, path)) as LayerConfigMap);
    if (this.lists.size >= 256) this.lists.clear(); // bounded; a miss costs one read
    this.lists.set(uid, files);
    return files;
  }
}

/**
 * The layers `spec.layers` names, in order; a CodeError (the Function's Ready condition) for one missing.
 * Their metadata is read to see they are there; their files' lists only with `fileLists` (a pod's start).
 */
export async function resolveLayers(
  kc: KubeConfig,
  namespace: string,
  spec: FunctionSpec,
  fileLists?: LayerFileLists,
): Promise<ResolvedLayer[]> {
  const resolved: ResolvedLayer[] = [];
  for (const [i, arn] of (spec.layers ?? []).entries()) {
    const field = `spec.layers[${i}]`;
    const layer = layerOfArn(arn);
    if (!layer) throw new CodeError('InvalidSpec', `${field}: ${arn} is not a layer version ARN`);
    if (layer.namespace !== namespace)
      throw new CodeError(
        'LayerNotFound',
        `${field}: layer version ${arn} is in namespace ${layer.namespace}; pods mount layers of their own namespace (${namespace}) only`,
      );
    const configMap = layerConfigMapName(layer.name, layer.version);
    const path = `/api/v1/namespaces/${namespace}/configmaps/${configMap}`;
    let cm: LayerConfigMap | undefined;
    try {
      cm = (await requestJson(kc, path, { accept: METADATA_ONLY })) as LayerConfigMap;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
    if (!cm || layerAnnotation(cm)?.name !== layer.name)
      throw new CodeError(
        'LayerNotFound',
        `${field}: layer version ${arn} is not published (no layer ConfigMap ${configMap} in ${namespace}); publish it with PublishLayerVersion`,
      );
    const listed = fileLists ? await fileLists.of(kc, path, cm.metadata?.uid ?? '') : [];
    // The gateway refuses such a layer; a ConfigMap written by hand might still have one.
    if (listed.some((f) => f.path.split('/')[0] === AGENT_ENTRY))
      throw new CodeError(
        'InvalidSpec',
        `${field}: layer version ${arn} has files in /opt/${AGENT_ENTRY}, which is Serval's agent in a pod`,
      );
    resolved.push({ configMap, files: listed });
  }
  return resolved;
}

/** The projected volume of the merged layers and its mounts under /opt; undefined without layers. */
export function layerVolume(
  layers: ResolvedLayer[],
): { volume: V1Volume; mounts: V1VolumeMount[] } | undefined {
  if (layers.length === 0) return undefined;
  const winner = new Map<string, number>();
  layers.forEach((layer, i) => {
    for (const file of layer.files) winner.set(file.path, i);
  });
  const sources = layers.flatMap((layer, i) => {
    const items = layer.files
      .filter((f) => winner.get(f.path) === i)
      .map((f) => ({ key: f.key, path: f.path, ...(f.executable ? { mode: 0o755 } : {}) }));
    // A source without items would project every key (the file list too): none is better.
    return items.length ? [{ configMap: { name: layer.configMap, items } }] : [];
  });
  const entries = [...new Set([...winner.keys()].map((path) => path.split('/')[0]!))].sort();
  return {
    volume: { name: 'layers', projected: { sources, defaultMode: 0o644 } },
    mounts: entries.map((entry) => ({
      name: 'layers',
      mountPath: `/opt/${entry}`,
      subPath: entry,
      readOnly: true,
    })),
  };
}
