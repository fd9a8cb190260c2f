// A function's layers in its pods (ADR-46): each layer version is an immutable ConfigMap the gateway wrote
// (kube/layer-configmaps.ts). The pod gets them as one read-only projected volume, each path taken from the
// last layer that has it (Lambda extracts layers into /opt in order, a later one's files over an earlier
// one's), mounted at /opt/<entry> for each top-level entry: /opt itself holds the agent (/opt/serval).
import type { KubeConfig, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { FunctionSpec } from '../apis/function.ts';
import { KubeError, requestJson } from '../kube/informer.ts';
import {
  type LayerConfigMap,
  type LayerFile,
  layerAnnotation,
  layerConfigMapName,
  layerFiles,
  layerOfArn,
} from '../kube/layer-configmaps.ts';
import { CodeError } from './code.ts';

/** The runtime image's own directory under /opt: a layer may not cover it. */
const AGENT_ENTRY = 'serval';

export interface ResolvedLayer {
  configMap: string;
  files: LayerFile[];
}

/** The layers `spec.layers` names, in order; a CodeError (the Function's Ready condition) for one missing. */
export async function resolveLayers(
  kc: KubeConfig,
  namespace: string,
  spec: FunctionSpec,
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
    let cm: LayerConfigMap | undefined;
    try {
      cm = (await requestJson(
        kc,
        `/api/v1/namespaces/${namespace}/configmaps/${configMap}`,
      )) as LayerConfigMap;
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw err;
    }
    if (!cm || layerAnnotation(cm)?.name !== layer.name)
      throw new CodeError(
        'LayerNotFound',
        `${field}: layer version ${arn} is not published (no layer ConfigMap ${configMap} in ${namespace}); publish it with PublishLayerVersion`,
      );
    const files = layerFiles(cm);
    if (files.some((f) => f.path === AGENT_ENTRY || f.path.startsWith(`${AGENT_ENTRY}/`)))
      throw new CodeError(
        'InvalidSpec',
        `${field}: layer version ${arn} has files in /opt/${AGENT_ENTRY}, which is Serval's agent in a pod`,
      );
    resolved.push({ configMap, files });
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
