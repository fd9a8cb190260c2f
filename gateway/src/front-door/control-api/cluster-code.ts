// An uploaded zip as the files of a code ConfigMap (ADR-39), and what the control-plane API shows of a
// Function resource: Lambda's extra fields from its annotation, its RevisionId from uid and generation.
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ApiError } from '../../../../apis/errors.ts';
import type { FunctionObject } from '../../../../kube/resources.ts';
import type { ApiFunctionRecord } from '../../registry/api-functions.ts';
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import { lambdaAnnotation } from '../../registry/kubernetes-writes.ts';
import { BadPackageError, PackageTooLargeError, unpackZip } from '../../registry/zip-package.ts';
import { roleOf, uuidOf } from './function-configuration.ts';

/** A ConfigMap holds at most 1 MiB; the controller's copy of the code must fit one too (controller/code.ts). */
export const CLUSTER_CODE_LIMIT_BYTES = 1024 * 1024 - 16 * 1024;
/** ConfigMap keys, once `/` is written as `__`. */
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;

export interface ZipContent {
  sha256: string;
  size: number;
  unzippedSize: number;
  files: Record<string, Buffer>;
  /** The files with an executable bit (a layer's /opt/bin tools). */
  executables: string[];
  /** Bytes the files take in a ConfigMap (binary ones base64). */
  storedSize: number;
}

/**
 * Unpacks the zip with the local checks (traversal, sizes) and reads it back as files for a ConfigMap.
 * `pathKeys`: each path becomes its own key (code ConfigMaps), so it must read as one; layers number theirs.
 */
export async function zipContent(zip: Buffer, scratchParent: string, pathKeys = true): Promise<ZipContent> {
  const scratch = mkdtempSync(join(scratchParent, 'cluster-zip-'));
  try {
    const root = join(scratch, 'code');
    let unzippedSize: number;
    try {
      unzippedSize = await unpackZip(zip, root, CLUSTER_CODE_LIMIT_BYTES);
    } catch (err) {
      if (err instanceof PackageTooLargeError) throw tooLarge();
      if (err instanceof BadPackageError) throw new ApiError('InvalidParameterValueException', err.message);
      throw err;
    }
    const files: Record<string, Buffer> = {};
    const executables: string[] = [];
    let stored = 0;
    for (const path of walk(root)) {
      const name = relative(root, path);
      if (lstatSync(path).isSymbolicLink())
        throw new ApiError(
          'InvalidParameterValueException',
          `${name}: symbolic links cannot be carried to pods in a ConfigMap`,
        );
      if (pathKeys && (name.includes('__') || !CONFIGMAP_KEY.test(name.replaceAll('/', '__'))))
        throw new ApiError(
          'InvalidParameterValueException',
          `${name}: a file name in a cluster is made of letters, digits, "-", "." and single "_" (it becomes a ConfigMap key)`,
        );
      const content = readFileSync(path);
      files[name] = content;
      if (lstatSync(path).mode & 0o111) executables.push(name);
      // Binary files travel base64 (a third larger).
      stored += Buffer.from(content.toString('utf8')).equals(content)
        ? content.length
        : Math.ceil(content.length / 3) * 4;
    }
    if (stored > CLUSTER_CODE_LIMIT_BYTES) throw tooLarge();
    const sha256 = createHash('sha256').update(zip).digest('hex');
    return { sha256, size: zip.length, unzippedSize, files, executables, storedSize: stored };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function tooLarge(): ApiError {
  return new ApiError(
    'InvalidParameterValueException',
    `Unzipped size must be smaller than ${CLUSTER_CODE_LIMIT_BYTES} bytes in a cluster, where the code travels to pods in a ConfigMap`,
  );
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** The RevisionId of a Function resource: a new one for every spec change (generation), and per object. */
export function clusterRevisionId(o: FunctionObject): string {
  return uuidOf(`${o.metadata?.uid ?? ''}:${o.metadata?.generation ?? 0}`);
}

/** What the API shows of a Function resource, whether the API or kubectl wrote it. */
export function clusterRecord(o: FunctionObject, fn: FunctionDefinition): ApiFunctionRecord {
  const lambda = lambdaAnnotation(o);
  const created = o.metadata?.creationTimestamp?.toString();
  // Code applied since (kubectl) is no longer the uploaded zip: its hash and size are the controller's.
  const zip =
    lambda?.configMap !== undefined && fn.spec.code.configMap?.name === lambda.configMap ? lambda : undefined;
  return {
    namespace: fn.namespace,
    name: fn.name,
    spec: fn.spec,
    role: lambda?.role ?? roleOf(fn.namespace, fn.spec),
    architectures: lambda?.architectures ?? ['x86_64'],
    tags: lambda?.tags ?? {},
    codeSha256: zip?.codeSha256 ?? fn.codeSha256,
    codeSize: zip?.codeSize ?? 0,
    unzippedSize: zip?.unzippedSize ?? 0,
    revisionId: clusterRevisionId(o),
    lastModified: lambda?.lastModified ?? created ?? new Date(0).toISOString(),
    // A URL or event-invoke config applied with kubectl dates from the object, lacking a better time.
    urlCreatedAt: lambda?.urlCreatedAt ?? (fn.spec.url ? created : undefined),
    urlModifiedAt: lambda?.urlModifiedAt,
    eventInvokeModifiedAt: lambda?.eventInvokeModifiedAt ?? (fn.spec.async ? created : undefined),
  };
}
