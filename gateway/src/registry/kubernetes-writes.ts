// The control-plane API's writes in a cluster (ADR-39): Function and Alias resources on the API server, and
// the ConfigMap that carries an uploaded zip's files to the controller. Concurrency is the API server's:
// every replace sends the resourceVersion it read, and its 409 becomes Lambda's ResourceConflictException.
// Each write is also shown to the catalog at once, so the caller's next read sees it.
import { createHash } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError } from '../../../apis/errors.ts';
import { KubeError, requestJson } from '../../../kube/request.ts';
import {
  ALIASES,
  type AliasObject,
  ANNOTATION_PUBLISH,
  type FunctionObject,
  functionsPath,
  GROUP,
  LABEL_MANAGED,
  MANAGER,
  VERSION,
} from '../../../kube/resources.ts';
import type { ApiFunctionRecord } from './api-functions.ts';
import type { KubernetesCatalog } from './kubernetes-catalog.ts';

/** What Lambda keeps about a function that a Function spec has no field for (JSON in one annotation). */
export const ANNOTATION_LAMBDA = 'serval.dev/lambda-api';
/** How often a read-change-write of a Function is tried when others write it at the same time. */
const UPDATE_ATTEMPTS = 8;
/** Marks the ConfigMaps holding uploaded code, by function name (several per function while updating). */
export const LABEL_API_CODE = 'serval.dev/api-code';

/** The record's fields a Function spec has no place for, and the ConfigMap the zip went to. */
export type LambdaAnnotation = Pick<
  ApiFunctionRecord,
  'role' | 'architectures' | 'tags' | 'codeSha256' | 'codeSize' | 'unzippedSize' | 'lastModified'
> & {
  /** The code ConfigMap of the zip: its hash holds while `spec.code.configMap` still names it. */
  configMap: string;
} & Pick<ApiFunctionRecord, 'urlCreatedAt' | 'urlModifiedAt' | 'eventInvokeModifiedAt'>;

/**
 * The annotation as found: the setting operations (cluster-settings.ts) write only their own fields on a
 * Function kubectl applied, so any field may be missing.
 */
export type FoundLambdaAnnotation = Partial<LambdaAnnotation>;

export function lambdaAnnotation(o: FunctionObject): FoundLambdaAnnotation | undefined {
  const raw = o.metadata?.annotations?.[ANNOTATION_LAMBDA];
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as FoundLambdaAnnotation) : undefined;
  } catch {
    return undefined;
  }
}

export class KubernetesWrites {
  /** Also the cluster layer store's (ADR-46), which writes ConfigMaps beside these. */
  readonly kc: KubeConfig;
  readonly catalog: KubernetesCatalog;

  constructor(kc: KubeConfig, catalog: KubernetesCatalog) {
    this.kc = kc;
    this.catalog = catalog;
  }

  /** The Function as the API server has it now (not the cache): its resourceVersion guards the write. */
  async getFunction(namespace: string, name: string): Promise<FunctionObject | undefined> {
    try {
      return (await requestJson(this.kc, `${functionsPath(namespace)}/${name}`)) as FunctionObject;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw kubeFailure(err, `Function ${namespace}/${name}`);
    }
  }

  async createFunction(o: FunctionObject): Promise<FunctionObject> {
    const namespace = o.metadata!.namespace!;
    const created = await this.send(`${functionsPath(namespace)}`, 'POST', o, `Function ${o.metadata!.name}`);
    this.catalog.observeFunction(created as FunctionObject);
    return created as FunctionObject;
  }

  /** Replaces the Function; `o.metadata.resourceVersion` must still be the server's. */
  async replaceFunction(o: FunctionObject): Promise<FunctionObject> {
    const { namespace, name } = o.metadata as { namespace: string; name: string };
    const replaced = (await this.send(
      `${functionsPath(namespace)}/${name}`,
      'PUT',
      o,
      `Function ${name}`,
    )) as FunctionObject;
    this.catalog.observeFunction(replaced);
    return replaced;
  }

  /**
   * Reads the Function from the API server, lets `change` edit it (or refuse, throwing) and replaces it with
   * the resourceVersion it read. A 409, someone else's write landing in between, reads and changes it
   * again, so neither write is lost; after `attempts` it is ResourceConflictException.
   */
  async updateFunction(
    namespace: string,
    name: string,
    change: (current: FunctionObject | undefined) => FunctionObject,
    attempts = UPDATE_ATTEMPTS,
  ): Promise<FunctionObject> {
    for (let attempt = 1; ; attempt++) {
      const next = change(await this.getFunction(namespace, name));
      try {
        const replaced = (await requestJson(this.kc, `${functionsPath(namespace)}/${name}`, {
          method: 'PUT',
          body: next,
        })) as FunctionObject;
        this.catalog.observeFunction(replaced);
        return replaced;
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 409) || attempt >= attempts)
          throw kubeFailure(err, `Function ${name}`);
      }
      // Writers that collided once should not collide again in step.
      await new Promise((r) => setTimeout(r, Math.random() * 50 * attempt));
    }
  }

  /** Deletes the Function (the controller's finalizer removes its pods and versions) and its code. */
  async deleteFunction(namespace: string, name: string): Promise<void> {
    await this.send(`${functionsPath(namespace)}/${name}`, 'DELETE', undefined, `Function ${name}`);
    this.catalog.forgetFunction(namespace, name);
    // Owner references collect these in a cluster with a garbage collector; deleting them says so at once.
    await this.pruneCode(namespace, name, undefined);
  }

  /**
   * Stores an uploaded zip's files in a ConfigMap named by the function and the zip's hash, which the
   * Function's `spec.code.configMap` then names. The same zip again reuses it. Keys are paths with `/`
   * written as `__`, as the controller's own code ConfigMaps are, and restored by the pod's volume items.
   */
  async putCode(
    namespace: string,
    functionName: string,
    zipSha256: string,
    files: Record<string, Buffer>,
  ): Promise<string> {
    const name = `${functionName}-zip-${zipSha256.slice(0, 12)}`;
    const data: Record<string, string> = {};
    const binaryData: Record<string, string> = {};
    for (const [file, content] of Object.entries(files)) {
      const key = file.replaceAll('/', '__');
      const text = content.toString('utf8');
      if (Buffer.from(text).equals(content)) data[key] = text;
      else binaryData[key] = content.toString('base64');
    }
    const body = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace,
        labels: { [LABEL_API_CODE]: functionName, [LABEL_MANAGED]: MANAGER },
        annotations: { 'serval.dev/zip-sha256': zipSha256 },
      },
      immutable: true,
      data,
      binaryData,
    };
    try {
      await requestJson(this.kc, `/api/v1/namespaces/${namespace}/configmaps`, { method: 'POST', body });
    } catch (err) {
      // Content-addressed: one that exists holds these files already.
      if (!(err instanceof KubeError && err.status === 409)) throw kubeFailure(err, `ConfigMap ${name}`);
    }
    return name;
  }

  /** Makes the Function own its code ConfigMap, so deleting the Function collects it. */
  async adoptCode(namespace: string, configMap: string, owner: FunctionObject): Promise<void> {
    const ownerReferences = [
      {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'Function',
        name: owner.metadata!.name!,
        uid: owner.metadata!.uid!,
      },
    ];
    await requestJson(this.kc, `/api/v1/namespaces/${namespace}/configmaps/${configMap}`, {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      body: { metadata: { ownerReferences } },
    }).catch((err) => {
      throw kubeFailure(err, `ConfigMap ${configMap}`);
    });
  }

  /** Deletes the function's uploaded-code ConfigMaps other than `keep`. */
  async pruneCode(namespace: string, functionName: string, keep: string | undefined): Promise<void> {
    const selector = encodeURIComponent(`${LABEL_API_CODE}=${functionName}`);
    const list = (await requestJson(
      this.kc,
      `/api/v1/namespaces/${namespace}/configmaps?labelSelector=${selector}`,
    ).catch((err) => {
      throw kubeFailure(err, 'ConfigMaps');
    })) as { items?: Array<{ metadata?: { name?: string } }> };
    for (const cm of list.items ?? []) {
      const name = cm.metadata?.name;
      if (!name || name === keep) continue;
      await requestJson(this.kc, `/api/v1/namespaces/${namespace}/configmaps/${name}`, {
        method: 'DELETE',
      }).catch((err) => {
        if (!(err instanceof KubeError && err.status === 404)) throw kubeFailure(err, `ConfigMap ${name}`);
      });
    }
  }

  /** Asks the controller to publish $LATEST as a version (the publish annotation, to a new value). */
  async requestPublish(namespace: string, name: string, token: string, resourceVersion: string) {
    const patched = (await this.send(
      `${functionsPath(namespace)}/${name}`,
      'PATCH',
      { metadata: { resourceVersion, annotations: { [ANNOTATION_PUBLISH]: token } } },
      `Function ${name}`,
      'application/merge-patch+json',
    )) as FunctionObject;
    this.catalog.observeFunction(patched);
    return patched;
  }

  async getAlias(namespace: string, objectName: string): Promise<AliasObject | undefined> {
    try {
      return (await requestJson(this.kc, `${aliasesPath(namespace)}/${objectName}`)) as AliasObject;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw kubeFailure(err, `Alias ${objectName}`);
    }
  }

  async createAlias(o: AliasObject): Promise<AliasObject> {
    const created = (await this.send(
      aliasesPath(o.metadata!.namespace!),
      'POST',
      o,
      `Alias ${o.spec.name ?? o.metadata!.name}`,
    )) as AliasObject;
    this.catalog.observeAlias(created);
    return created;
  }

  async replaceAlias(o: AliasObject): Promise<AliasObject> {
    const replaced = (await this.send(
      `${aliasesPath(o.metadata!.namespace!)}/${o.metadata!.name}`,
      'PUT',
      o,
      `Alias ${o.spec.name ?? o.metadata!.name}`,
    )) as AliasObject;
    this.catalog.observeAlias(replaced);
    return replaced;
  }

  /**
   * As updateFunction, for an Alias: read from the API server, changed by `change` (which may refuse,
   * throwing), replaced with the resourceVersion read, and a 409 retried on a fresh read.
   */
  async updateAlias(
    namespace: string,
    objectName: string,
    change: (current: AliasObject | undefined) => AliasObject,
    attempts = UPDATE_ATTEMPTS,
  ): Promise<AliasObject> {
    for (let attempt = 1; ; attempt++) {
      const next = change(await this.getAlias(namespace, objectName));
      try {
        const replaced = (await requestJson(this.kc, `${aliasesPath(namespace)}/${objectName}`, {
          method: 'PUT',
          body: next,
        })) as AliasObject;
        this.catalog.observeAlias(replaced);
        return replaced;
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 409) || attempt >= attempts)
          throw kubeFailure(err, `Alias ${next.spec.name ?? objectName}`);
      }
      await new Promise((r) => setTimeout(r, Math.random() * 50 * attempt));
    }
  }

  async deleteAlias(namespace: string, functionName: string, alias: string, objectName: string) {
    try {
      await requestJson(this.kc, `${aliasesPath(namespace)}/${objectName}`, { method: 'DELETE' });
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) throw kubeFailure(err, `Alias ${alias}`);
    }
    this.catalog.forgetAlias(namespace, functionName, alias);
  }

  private async send(
    path: string,
    method: string,
    body: unknown,
    what: string,
    contentType?: string,
  ): Promise<unknown> {
    try {
      return await requestJson(this.kc, path, { method, body, contentType });
    } catch (err) {
      throw kubeFailure(err, what);
    }
  }
}

/** An Alias resource's name: the alias itself when it is a valid object name, else one derived from it. */
export function aliasObjectName(functionName: string, alias: string): string {
  const plain = `${functionName}-${alias}`;
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(plain) && plain.length <= 253) return plain;
  return `${functionName}-${createHash('sha256').update(alias).digest('hex').slice(0, 12)}`;
}

function aliasesPath(namespace: string): string {
  return `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${ALIASES}`;
}

/** The API server's refusal in Lambda's vocabulary; anything unexpected is the service's fault. */
export function kubeFailure(err: unknown, what: string): Error {
  if (err instanceof ApiError) return err;
  if (!(err instanceof KubeError)) return err instanceof Error ? err : new Error(String(err));
  switch (err.status) {
    case 409:
      return new ApiError(
        'ResourceConflictException',
        /already exists/.test(err.message)
          ? `${what} already exists`
          : `The operation cannot be performed at this time. An update is in progress for resource: ${what} (changed since it was read; retry)`,
      );
    case 404:
      return new ApiError('ResourceNotFoundException', `${what} not found`);
    case 422:
    case 400:
      return new ApiError(
        'InvalidParameterValueException',
        `${what}: ${err.message.replace(/^HTTP \d+: /, '')}`,
      );
    case 403:
      return new ApiError(
        'ServiceException',
        `the gateway may not change ${what} (its RBAC; charts/serval grants it): ${err.message}`,
      );
    default:
      return new ApiError('ServiceException', `the API server refused ${what}: ${err.message}`);
  }
}
