// A function's code as files, wherever the spec says it lives, and the immutable ConfigMap that carries it
// to pods. Inline code is the spec's own files; a ConfigMap is copied (so a later edit makes a new
// version of the code, not a silent change under running pods); a URL is fetched once and must match its
// sha256 before anything runs it.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import type { FunctionSpec } from '../apis/function.ts';
import { KubeError, requestJson } from '../kube/request.ts';
import { LABEL_FUNCTION, LABEL_MANAGED, MANAGER } from '../kube/resources.ts';

/** ConfigMaps hold at most 1 MiB in all. */
const CONFIGMAP_LIMIT = 1024 * 1024 - 16 * 1024;

export class CodeError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

export interface ResolvedCode {
  sha256: string;
  files: Record<string, Buffer>;
}

export async function resolveCode(
  kc: KubeConfig,
  namespace: string,
  spec: FunctionSpec,
): Promise<ResolvedCode> {
  const { code } = spec;
  let files: Record<string, Buffer>;
  if (code.inline) {
    files = Object.fromEntries(Object.entries(code.inline).map(([k, v]) => [k, Buffer.from(v)]));
  } else if (code.configMap) {
    let cm: { data?: Record<string, string>; binaryData?: Record<string, string> };
    try {
      cm = (await requestJson(
        kc,
        `/api/v1/namespaces/${namespace}/configmaps/${code.configMap.name}`,
      )) as typeof cm;
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) {
        throw new CodeError(
          'CodeNotFound',
          `spec.code.configMap: ConfigMap ${namespace}/${code.configMap.name} not found`,
        );
      }
      throw err;
    }
    files = {
      ...Object.fromEntries(Object.entries(cm.data ?? {}).map(([k, v]) => [k, Buffer.from(v)])),
      ...Object.fromEntries(
        Object.entries(cm.binaryData ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
      ),
    };
  } else if (code.url) {
    let body: Buffer;
    try {
      const res = await fetch(code.url.href, { signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = Buffer.from(await res.arrayBuffer());
    } catch (err) {
      throw new CodeError(
        'CodeDownloadFailed',
        `spec.code.url: cannot fetch ${code.url.href}: ${err instanceof Error ? err.message : err}`,
      );
    }
    const actual = createHash('sha256').update(body).digest('hex');
    if (actual !== code.url.sha256) {
      throw new CodeError(
        'CodeChecksumMismatch',
        `spec.code.url: sha256 is ${actual}, the spec says ${code.url.sha256}`,
      );
    }
    files = { [code.url.file ?? basename(new URL(code.url.href).pathname)]: body };
  } else {
    throw new CodeError(
      'InvalidSpec',
      'spec.code.path is for local mode; in a cluster use inline, configMap or url',
    );
  }
  const size = Object.values(files).reduce((n, b) => n + b.length, 0);
  if (size > CONFIGMAP_LIMIT) {
    throw new CodeError(
      'CodeTooLarge',
      `spec.code: ${size} bytes is more than a ConfigMap carries; use an image`,
    );
  }
  return { sha256: digest(files), files };
}

/** sha256 over file names and contents, in name order: the same files always give the same hash. */
export function digest(files: Record<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const name of Object.keys(files).sort()) {
    hash.update(name).update('\0').update(String(files[name]!.length)).update('\0').update(files[name]!);
  }
  return hash.digest('hex');
}

/** Creates the code ConfigMap for this content if it does not exist; returns its name. */
export async function ensureCodeConfigMap(
  kc: KubeConfig,
  owner: { namespace: string; name: string; uid: string },
  code: ResolvedCode,
): Promise<string> {
  const name = `${owner.name}-code-${code.sha256.slice(0, 10)}`;
  const data: Record<string, string> = {};
  const binaryData: Record<string, string> = {};
  for (const [file, content] of Object.entries(code.files)) {
    // ConfigMap keys cannot hold '/': nested files are flattened with '__' and restored by key order.
    const key = file.replaceAll('/', '__');
    const text = content.toString('utf8');
    if (Buffer.from(text).equals(content)) data[key] = text;
    else binaryData[key] = content.toString('base64');
  }
  try {
    await requestJson(kc, `/api/v1/namespaces/${owner.namespace}/configmaps`, {
      method: 'POST',
      body: {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name,
          namespace: owner.namespace,
          labels: { [LABEL_FUNCTION]: owner.name, [LABEL_MANAGED]: MANAGER },
          annotations: { 'serval.dev/code-sha256': code.sha256 },
          ownerReferences: [ownerReference(owner)],
        },
        immutable: true,
        data,
        binaryData,
      },
    });
  } catch (err) {
    if (!(err instanceof KubeError && err.status === 409)) throw err;
  }
  return name;
}

export function ownerReference(owner: { name: string; uid: string }) {
  return {
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'Function',
    name: owner.name,
    uid: owner.uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}
