// CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, GetFunction, GetFunctionConfiguration,
// ListFunctions and DeleteFunction, with AWS's request and response shapes.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { type ApiFunctionRecord, apiDefinition, isApiFunction } from '../../registry/api-functions.ts';
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import {
  BadPackageError,
  UNZIPPED_LIMIT_BYTES,
  unpackZip,
  ZIPPED_LIMIT_BYTES,
} from '../../registry/zip-package.ts';
import type { PublishedVersion } from '../../versions/version-store.ts';
import { clusterRecord } from './cluster-code.ts';
import { checkRevision, type FunctionChanges } from './function-changes.ts';
import { functionConfiguration, roleAndArchitectures, specFromRequest } from './function-configuration.ts';
import { pageOf } from './paging.ts';

/** Kubernetes object names: Serval functions are Function resources in a cluster. */
const FUNCTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function functionHandlers(changes: FunctionChanges) {
  const { config, store, versions, registry, layers } = changes.deps;
  const ctx = {
    region: config.region,
    layerSize: (arn: string) => layers.byArn(arn, config.region)?.unzippedSize,
  };
  const recordFor = (fn: FunctionDefinition) => {
    const resource = changes.deps.kube?.catalog.functionObject(fn.namespace, fn.name);
    if (resource) return clusterRecord(resource, fn);
    return isApiFunction(fn) ? store.get(fn.namespace, fn.name) : undefined;
  };
  const view = (fn: FunctionDefinition, version?: PublishedVersion) =>
    functionConfiguration(ctx, fn, recordFor(fn), version);
  const publishIfAsked = (record: ApiFunctionRecord, publish: unknown) => {
    const fn = apiDefinition(record, layers, config.region);
    if (publish !== true) return view(fn);
    return view(fn, versions.publish(fn, fn.spec.description).version);
  };

  return {
    async create(req: Request, res: Response) {
      const body = objectBody(req);
      const { name, namespace, zip, role, architectures, tags } = createRequest(changes, body);
      // Validated before anything is written: the package's directory is known from its hash.
      specFromRequest(body, {}, store.packageDir(zip));
      checkStorage(changes, zip);
      const pkg = await storePackage(changes, zip);
      const record = changes.create({
        namespace,
        name,
        spec: specFromRequest(body, {}, pkg.dir),
        role,
        architectures,
        tags,
        codeSha256: pkg.sha256,
        codeSize: pkg.size,
        unzippedSize: pkg.unzippedSize,
      });
      res.status(201).json(publishIfAsked(record, body.Publish));
    },

    async updateCode(req: Request, res: Response) {
      const body = objectBody(req);
      const { fn } = changes.find(String(req.params.functionName));
      const record = changes.recordOf(fn);
      const asked = typeof body.RevisionId === 'string' ? body.RevisionId : undefined;
      checkRevision(record, asked);
      const zip = zipOf(
        { ZipFile: body.ZipFile, S3Bucket: body.S3Bucket, ImageUri: body.ImageUri },
        'ZipFile',
      );
      const { architectures } = roleAndArchitectures(body, record);
      if (body.DryRun === true) {
        // Checks the package as an update would, and changes nothing.
        const scratch = mkdtempSync(join(config.dataDir, 'dry-run-'));
        try {
          await unpackOrRefuse(zip, join(scratch, 'code'));
        } finally {
          rmSync(scratch, { recursive: true, force: true });
        }
        res.json({ ...view(fn), CodeSize: zip.length, CodeSha256: sha256Base64(zip) });
        return;
      }
      checkStorage(changes, zip);
      const pkg = await storePackage(changes, zip);
      // Another change landed while this upload was unpacked: the caller's precondition, if it gave one,
      // failed; otherwise this is Lambda's "update in progress" conflict, and nothing is half-applied.
      let next: ApiFunctionRecord;
      try {
        next = changes.commit(fn, asked ?? record.revisionId, (r) => ({
          ...r,
          spec: { ...r.spec, code: { path: pkg.dir } },
          architectures,
          codeSha256: pkg.sha256,
          codeSize: pkg.size,
          unzippedSize: pkg.unzippedSize,
        }));
      } catch (err) {
        if (asked !== undefined || !(err instanceof ApiError && err.type === 'PreconditionFailedException'))
          throw err;
        throw new ApiError(
          'ResourceConflictException',
          `The operation cannot be performed at this time. An update is in progress for resource: ${fn.name}`,
        );
      }
      res.json(publishIfAsked(next, body.Publish));
    },

    updateConfiguration(req: Request, res: Response) {
      const body = objectBody(req);
      const { fn } = changes.find(String(req.params.functionName));
      const revision = typeof body.RevisionId === 'string' ? body.RevisionId : undefined;
      const next = changes.commit(fn, revision, (r) => ({
        ...r,
        ...roleAndArchitectures(body, r),
        spec: specFromRequest(body, r.spec, r.spec.code.path!),
      }));
      res.json(view(apiDefinition(next, layers, config.region)));
    },

    get(req: Request, res: Response) {
      const { fn, version } = changes.find(String(req.params.functionName), query(req, 'Qualifier'));
      const record = recordFor(fn);
      res.json({
        Configuration: view(fn, version),
        Code: { RepositoryType: 'S3' },
        ...(record && Object.keys(record.tags).length > 0 ? { Tags: record.tags } : {}),
        ...(fn.spec.reservedConcurrency !== undefined
          ? { Concurrency: { ReservedConcurrentExecutions: fn.spec.reservedConcurrency } }
          : {}),
      });
    },

    getConfiguration(req: Request, res: Response) {
      const { fn, version } = changes.find(String(req.params.functionName), query(req, 'Qualifier'));
      res.json(view(fn, version));
    },

    list(req: Request, res: Response) {
      const all = query(req, 'FunctionVersion');
      if (all !== undefined && all !== 'ALL')
        throw new ApiError('InvalidParameterValueException', 'FunctionVersion: must be ALL');
      const items = registry.list().flatMap((fn) => [
        { key: `${fn.namespace}/${fn.name}/$LATEST`, fn, version: undefined },
        ...(all === 'ALL'
          ? changes.deps.read.versions.list(fn.namespace, fn.name).map((v) => ({
              key: `${fn.namespace}/${fn.name}/${v.version.padStart(10, '0')}`,
              fn,
              version: v,
            }))
          : []),
      ]);
      items.sort((a, b) => (a.key < b.key ? -1 : 1));
      const page = pageOf(items, query(req, 'Marker'), query(req, 'MaxItems'));
      res.json({
        Functions: page.items.map((i) => view(i.fn, i.version)),
        ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      });
    },

    delete(req: Request, res: Response) {
      changes.delete(changes.find(String(req.params.functionName), query(req, 'Qualifier')));
      res.status(204).end();
    },
  };
}

/** What a CreateFunction body names besides the spec, checked; the name must be free. */
export function createRequest(changes: FunctionChanges, body: Record<string, unknown>) {
  const name = functionNameOf(body);
  const namespace = changes.deps.config.defaultNamespace;
  changes.checkNameFree(namespace, name);
  const zip = zipOf(body.Code, 'Code.ZipFile');
  return { name, namespace, zip, ...roleAndArchitectures(body), tags: tagsOf(body.Tags) };
}

/** CreateFunction's FunctionName, which must also be a Kubernetes object name. */
export function functionNameOf(body: Record<string, unknown>): string {
  const name = body.FunctionName;
  if (typeof name !== 'string' || name.length > 64 || !FUNCTION_NAME.test(name)) {
    throw new ApiError(
      'InvalidParameterValueException',
      'FunctionName: must be 1-64 lower-case letters, digits and "-" (Serval functions are Kubernetes objects)',
    );
  }
  return name;
}

export function objectBody(req: Request): Record<string, unknown> {
  const body = req.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new ApiError('InvalidRequestContentException', 'The request body must be a JSON object');
  return body as Record<string, unknown>;
}

export function query(req: Request, name: string): string | undefined {
  const value = req.query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new ApiError('InvalidParameterValueException', `${name}: must be given once`);
  return value;
}

/** The zip of a request (`Code.ZipFile` or `ZipFile`, base64 in JSON), within the 50 MB direct-upload limit. */
export function zipOf(code: unknown, field: string): Buffer {
  const c = (code ?? {}) as Record<string, unknown>;
  if (c.S3Bucket !== undefined || c.S3Key !== undefined || c.ImageUri !== undefined)
    throw new ApiError(
      'InvalidParameterValueException',
      `${field}: only a zip sent in the request is supported (no S3 or image)`,
    );
  if (typeof c.ZipFile !== 'string' || c.ZipFile.length === 0)
    throw new ApiError('InvalidParameterValueException', `${field}: is required`);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(c.ZipFile))
    throw new ApiError('InvalidParameterValueException', `${field}: must be base64`);
  const zip = Buffer.from(c.ZipFile, 'base64');
  if (zip.length > ZIPPED_LIMIT_BYTES)
    throw new ApiError(
      'RequestTooLargeException',
      `Zipped size must be smaller than ${ZIPPED_LIMIT_BYTES} bytes`,
    );
  return zip;
}

export async function unpackOrRefuse(zip: Buffer, dir: string): Promise<number> {
  try {
    return await unpackZip(zip, dir, UNZIPPED_LIMIT_BYTES);
  } catch (err) {
    if (err instanceof BadPackageError) throw new ApiError('InvalidParameterValueException', err.message);
    throw err;
  }
}

async function storePackage(changes: FunctionChanges, zip: Buffer) {
  try {
    return await changes.deps.store.storePackage(zip, UNZIPPED_LIMIT_BYTES);
  } catch (err) {
    if (err instanceof BadPackageError) throw new ApiError('InvalidParameterValueException', err.message);
    throw err;
  }
}

function checkStorage(changes: FunctionChanges, zip: Buffer): void {
  const { store, config } = changes.deps;
  if (store.totalCodeSize() + zip.length > config.codeStorageLimitBytes)
    throw new ApiError(
      'CodeStorageExceededException',
      `Code storage limit exceeded: the account's ${config.codeStorageLimitBytes} bytes are in use`,
    );
}

export function tagsOf(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (
    typeof value !== 'object' ||
    value === null ||
    Object.entries(value).some(([k, v]) => typeof v !== 'string' || k.length === 0 || k.length > 128)
  )
    throw new ApiError('InvalidParameterValueException', 'Tags: must map keys (1-128 characters) to strings');
  return value as Record<string, string>;
}

function sha256Base64(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}
