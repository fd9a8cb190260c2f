// Layer versions in a cluster (ADR-46): immutable ConfigMaps in the layer's namespace (kube/layer-configmaps.ts),
// so every gateway replica and the controller read one truth. A version's number is taken by creating its
// deterministically named ConfigMap: two replicas publishing at once collide on the name and the loser takes
// the next one. A deleted version keeps its object (labelled deleted), so functions using it keep their /opt
// and its number is never handed out again, as in Lambda.
import { createHash, randomUUID } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError } from '../../../../apis/errors.ts';
import type { FunctionSpec } from '../../../../apis/function.ts';
import {
  AGENT_ENTRY,
  ANNOTATION_LAYER,
  ANNOTATION_LAYER_POLICY,
  LABEL_LAYER,
  LABEL_LAYER_DELETED,
  LABEL_LAYER_VERSION,
  LAYER_FILES_KEY,
  type LayerAnnotation,
  type LayerConfigMap,
  type LayerFile,
  layerAnnotation,
  layerConfigMapName,
  layerLabel,
  layerOfArn,
  METADATA_LIST_ONLY,
  METADATA_ONLY,
} from '../../../../kube/layer-configmaps.ts';
import { KubeError, requestJson } from '../../../../kube/request.ts';
import { LABEL_MANAGED, MANAGER } from '../../../../kube/resources.ts';
import { kubeFailure } from '../../registry/kubernetes-writes.ts';
import type {
  LayerPermission,
  LayerVersionMeta,
  LayerVersionRecord,
  LayerVersions,
} from '../../registry/layer-store.ts';
import { CLUSTER_CODE_LIMIT_BYTES, tooLarge, zipContent } from './cluster-code.ts';
import { checkLayers } from './function-changes.ts';

/** Numbers tried past the highest one seen before a publish gives up (each try is a lost race). */
const PUBLISH_ATTEMPTS = 20;

export class ClusterLayerStore implements LayerVersions {
  private readonly kc: KubeConfig;
  /** Where uploads are unpacked for their checks. */
  private readonly scratchDir: string;

  constructor(kc: KubeConfig, scratchDir: string) {
    this.kc = kc;
    this.scratchDir = scratchDir;
  }

  async names(namespace: string): Promise<string[]> {
    const live = (await this.list(namespace, `!${LABEL_LAYER_DELETED}`)).map((r) => r.name);
    return [...new Set(live)].sort();
  }

  async versions(namespace: string, name: string): Promise<LayerVersionRecord[]> {
    return (await this.list(namespace, `${LABEL_LAYER}=${layerLabel(name)},!${LABEL_LAYER_DELETED}`))
      .filter((r) => r.name === name)
      .sort((a, b) => a.version - b.version);
  }

  async get(namespace: string, name: string, version: number): Promise<LayerVersionRecord | undefined> {
    const cm = await this.read(namespace, layerConfigMapName(name, version));
    const record = cm && recordOf(namespace, cm);
    return record?.name === name && !cm!.metadata?.labels?.[LABEL_LAYER_DELETED] ? record : undefined;
  }

  async publish(meta: LayerVersionMeta, zip: Buffer): Promise<LayerVersionRecord> {
    const content = await zipContent(zip, this.scratchDir, false);
    if (Object.keys(content.files).some((path) => path.split('/')[0] === AGENT_ENTRY))
      throw new ApiError(
        'InvalidParameterValueException',
        `${AGENT_ENTRY}/: in a cluster /opt/${AGENT_ENTRY} is Serval's agent in every pod; a layer cannot have files there`,
      );
    const files: LayerFile[] = [];
    const data: Record<string, string> = {};
    const binaryData: Record<string, string> = {};
    const executable = new Set(content.executables);
    for (const [i, [path, bytes]] of Object.entries(content.files).entries()) {
      const key = `f${i}`;
      files.push({ key, path, ...(executable.has(path) ? { executable: true } : {}) });
      const text = bytes.toString('utf8');
      if (Buffer.from(text).equals(bytes)) data[key] = text;
      else binaryData[key] = bytes.toString('base64');
    }
    data[LAYER_FILES_KEY] = JSON.stringify(files);
    if (content.storedSize + data[LAYER_FILES_KEY].length > CLUSTER_CODE_LIMIT_BYTES) throw tooLarge();
    // Deleted versions count: their numbers stay taken.
    const taken = await this.list(meta.namespace, `${LABEL_LAYER}=${layerLabel(meta.name)}`);
    let version = Math.max(0, ...taken.filter((r) => r.name === meta.name).map((r) => r.version)) + 1;
    for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++, version++) {
      const { namespace: _, ...described } = meta;
      const lambda: LayerAnnotation = {
        ...described,
        version,
        codeSha256: createHash('sha256').update(zip).digest('hex'),
        codeSize: zip.length,
        unzippedSize: content.unzippedSize,
        createdDate: new Date().toISOString(),
      };
      const body = {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: layerConfigMapName(meta.name, version),
          namespace: meta.namespace,
          labels: {
            [LABEL_LAYER]: layerLabel(meta.name),
            [LABEL_LAYER_VERSION]: String(version),
            [LABEL_MANAGED]: MANAGER,
          },
          annotations: {
            [ANNOTATION_LAYER]: JSON.stringify(lambda),
            [ANNOTATION_LAYER_POLICY]: JSON.stringify({ permissions: [], revisionId: randomUUID() }),
          },
        },
        immutable: true,
        data,
        binaryData,
      };
      try {
        const created = (await requestJson(this.kc, configMapsPath(meta.namespace), {
          method: 'POST',
          body,
        })) as LayerConfigMap;
        return recordOf(meta.namespace, created)!;
      } catch (err) {
        // Another replica took this number first.
        if (!(err instanceof KubeError && err.status === 409)) throw kubeFailure(err, `layer ${meta.name}`);
      }
    }
    throw new ApiError(
      'TooManyRequestsException',
      `Too many versions of layer ${meta.name} are being published at once; try again`,
    );
  }

  async savePermissions(
    record: LayerVersionRecord,
    permissions: LayerPermission[],
  ): Promise<LayerVersionRecord> {
    const revisionId = randomUUID();
    // The resourceVersion read: a policy change in between is a 409, not a lost statement.
    const patched = (await requestJson(
      this.kc,
      `${configMapsPath(record.namespace)}/${layerConfigMapName(record.name, record.version)}`,
      {
        method: 'PATCH',
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            resourceVersion: record.resourceVersion,
            annotations: { [ANNOTATION_LAYER_POLICY]: JSON.stringify({ permissions, revisionId }) },
          },
        },
      },
    ).catch((err) => {
      throw kubeFailure(err, `layer version ${record.name}:${record.version}`);
    })) as LayerConfigMap;
    return recordOf(record.namespace, patched)!;
  }

  async delete(namespace: string, name: string, version: number): Promise<void> {
    if (!(await this.get(namespace, name, version))) return;
    await requestJson(this.kc, `${configMapsPath(namespace)}/${layerConfigMapName(name, version)}`, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { [LABEL_LAYER_DELETED]: 'true' } } },
    }).catch((err) => {
      if (!(err instanceof KubeError && err.status === 404))
        throw kubeFailure(err, `layer version ${name}:${version}`);
    });
  }

  private async read(namespace: string, name: string): Promise<LayerConfigMap | undefined> {
    try {
      return (await requestJson(this.kc, `${configMapsPath(namespace)}/${name}`, {
        accept: METADATA_ONLY,
      })) as LayerConfigMap;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw kubeFailure(err, `ConfigMap ${name}`);
    }
  }

  private async list(namespace: string, selector: string): Promise<LayerVersionRecord[]> {
    const query = encodeURIComponent(`${LABEL_LAYER_VERSION},${selector}`);
    // Metadata only: the files (up to 1 MiB a version) are the pods' business.
    const list = (await requestJson(this.kc, `${configMapsPath(namespace)}?labelSelector=${query}`, {
      accept: METADATA_LIST_ONLY,
    }).catch((err) => {
      throw kubeFailure(err, 'layer ConfigMaps');
    })) as { items?: LayerConfigMap[] };
    return (list.items ?? []).flatMap((cm) => recordOf(namespace, cm) ?? []);
  }
}

/**
 * The check of a cluster function's layers before it is written: published, within the unzipped limit with
 * the code (the local check), and in the function's own namespace, since a pod mounts only its namespace's
 * ConfigMaps.
 */
export async function checkClusterLayers(
  store: ClusterLayerStore,
  region: string,
  namespace: string,
  spec: FunctionSpec,
  unzippedSize: number,
): Promise<FunctionSpec> {
  const arns = spec.layers ?? [];
  const found = await Promise.all(
    arns.map(async (arn, i) => {
      const layer = layerOfArn(arn);
      if (!layer || !arn.includes(`:lambda:${region}:`)) return undefined;
      if (layer.namespace !== namespace)
        throw new ApiError(
          'InvalidParameterValueException',
          `Layers[${i}]: layer version ${arn} is in namespace ${layer.namespace}; a function in a cluster uses layers of its own namespace (${namespace}), whose ConfigMaps its pods can mount`,
        );
      return store.get(namespace, layer.name, layer.version);
    }),
  );
  checkLayers(arns, found, unzippedSize);
  return spec;
}

function configMapsPath(namespace: string): string {
  return `/api/v1/namespaces/${namespace}/configmaps`;
}

/** The record a layer ConfigMap stands for; undefined for one whose annotation is not Serval's. */
function recordOf(namespace: string, cm: LayerConfigMap): LayerVersionRecord | undefined {
  const lambda = layerAnnotation(cm);
  if (!lambda || typeof lambda.name !== 'string' || !Number.isInteger(lambda.version)) return undefined;
  let policy: { permissions: LayerPermission[]; revisionId: string } = { permissions: [], revisionId: '' };
  try {
    policy = JSON.parse(cm.metadata?.annotations?.[ANNOTATION_LAYER_POLICY] ?? '') as typeof policy;
  } catch {}
  return {
    ...lambda,
    namespace,
    permissions: policy.permissions ?? [],
    policyRevisionId: policy.revisionId ?? '',
    resourceVersion: cm.metadata?.resourceVersion,
  };
}
