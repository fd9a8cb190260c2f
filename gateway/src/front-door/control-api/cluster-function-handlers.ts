// CreateFunction, UpdateFunctionCode, UpdateFunctionConfiguration, DeleteFunction and PublishVersion in a
// cluster (ADR-39; the settings are cluster-settings.ts, ADR-45): each reads the Function resource from the API server, changes it and writes it back
// with the resourceVersion it read, so kubectl and the API share one truth and a concurrent change is a
// ResourceConflictException, never a lost update. Uploaded zips become code ConfigMaps.
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { API_VERSION, type FunctionSpec } from '../../../../apis/function.ts';
import { ANNOTATION_PUBLISH, type FunctionObject } from '../../../../kube/resources.ts';
import type { ApiFunctionRecord } from '../../registry/api-functions.ts';
import { functionArn } from '../../registry/function-definition.ts';
import { POD_CODE_DIR } from '../../registry/kubernetes-catalog.ts';
import {
  ANNOTATION_LAMBDA,
  type KubernetesWrites,
  type LambdaAnnotation,
  lambdaAnnotation,
} from '../../registry/kubernetes-writes.ts';
import type { PublishedVersion } from '../../versions/version-store.ts';
import { clusterAliasHandlers } from './cluster-alias-handlers.ts';
import { clusterRecord, clusterRevisionId, type ZipContent, zipContent } from './cluster-code.ts';
import { ClusterLayerStore, checkClusterLayers } from './cluster-layers.ts';
import { clusterSettings } from './cluster-settings.ts';
import { checkRevision, type FunctionChanges } from './function-changes.ts';
import {
  checkedSpec,
  functionConfiguration,
  roleAndArchitectures,
  specFromRequest,
} from './function-configuration.ts';
import { createRequest, objectBody, query, zipOf } from './function-handlers.ts';
import { recursionConfigHandlers } from './recursion-config.ts';
import { settingHandlers } from './setting-handlers.ts';

/** How long PublishVersion waits for the controller to publish (it acts within a reconcile). */
const PUBLISH_WAIT_MS = 50_000;

export function clusterFunctionHandlers(changes: FunctionChanges, writes: KubernetesWrites) {
  const { config, registry } = changes.deps;
  const ctx = { region: config.region, layerSize: () => undefined };
  const layers = new ClusterLayerStore(writes.kc, config.dataDir);
  const layered = (namespace: string, spec: FunctionSpec, unzippedSize: number) =>
    checkClusterLayers(layers, config.region, namespace, spec, unzippedSize);
  const view = (o: FunctionObject, version?: PublishedVersion) => {
    const fn = registry.get(o.metadata!.namespace!, o.metadata!.name!);
    if (!fn)
      throw new ApiError('ServiceException', `Function ${o.metadata!.name} is not valid: see its status`);
    return functionConfiguration(ctx, fn, clusterRecord(o, fn), version);
  };
  /** The Function a request names, as the API server has it now. */
  const current = async (req: Request): Promise<FunctionObject> => {
    const { fn } = changes.find(String(req.params.functionName));
    const o = await writes.getFunction(fn.namespace, fn.name);
    if (!o)
      throw new ApiError(
        'ResourceNotFoundException',
        `Function not found: ${functionArn(config.region, fn.namespace, fn.name)}`,
      );
    return o;
  };
  const revisionAsked = (body: Record<string, unknown>, o: FunctionObject) => {
    checkRevision(
      { revisionId: clusterRevisionId(o) },
      typeof body.RevisionId === 'string' ? body.RevisionId : undefined,
    );
  };
  const upload = (zip: Buffer) => zipContent(zip, config.dataDir);
  const annotate = (o: FunctionObject, lambda: LambdaAnnotation, publish: string | undefined) => {
    o.metadata = {
      ...o.metadata,
      annotations: {
        ...o.metadata?.annotations,
        [ANNOTATION_LAMBDA]: JSON.stringify(lambda),
        ...(publish ? { [ANNOTATION_PUBLISH]: publish } : {}),
      },
    };
  };
  const zipFields = (content: ZipContent, configMap: string) => ({
    codeSha256: content.sha256,
    codeSize: content.size,
    unzippedSize: content.unzippedSize,
    configMap,
  });
  /** The version the controller published for `token`, or a timeout naming where it stands. */
  const publishedFor = async (namespace: string, name: string, token: string): Promise<PublishedVersion> => {
    const end = Date.now() + PUBLISH_WAIT_MS;
    for (;;) {
      const status = writes.catalog.functionObject(namespace, name)?.status;
      const version =
        status?.lastPublishRequest === token && status.latestVersion
          ? writes.catalog.get(namespace, name, status.latestVersion)
          : undefined;
      if (version) return version;
      if (Date.now() > end) {
        const ready = status?.conditions?.find((c) => c.type === 'Ready');
        throw new ApiError(
          'ServiceException',
          `the controller did not publish ${name} within ${PUBLISH_WAIT_MS / 1000} s${ready ? ` (Ready: ${ready.reason}: ${ready.message})` : ''}; ListVersionsByFunction shows the version once it does`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const publishToken = (body: Record<string, unknown>) => (body.Publish === true ? randomUUID() : undefined);

  return {
    async create(req: Request, res: Response) {
      const body = objectBody(req);
      const { name, namespace, zip, role, architectures, tags } = createRequest(changes, body);
      const content = await upload(zip);
      const spec = await layered(namespace, specFromRequest(body, {}, POD_CODE_DIR), content.unzippedSize);
      const configMap = await writes.putCode(namespace, name, content.sha256, content.files);
      const o: FunctionObject = {
        apiVersion: API_VERSION,
        kind: 'Function',
        metadata: { name, namespace },
        spec: { ...spec, code: { configMap: { name: configMap } } },
      };
      const token = publishToken(body);
      annotate(
        o,
        {
          role,
          architectures,
          tags,
          ...zipFields(content, configMap),
          lastModified: new Date().toISOString(),
        },
        token,
      );
      let created: FunctionObject;
      try {
        created = await writes.createFunction(o);
      } catch (err) {
        // The ConfigMap is this function's alone (named by it); one that exists already is not ours to drop.
        if (!(err instanceof ApiError && err.type === 'ResourceConflictException'))
          await writes.pruneCode(namespace, name, undefined).catch(() => undefined);
        throw err;
      }
      await writes.adoptCode(namespace, configMap, created);
      const version = token ? await publishedFor(namespace, name, token) : undefined;
      res.status(201).json(view(created, version));
    },

    async updateCode(req: Request, res: Response) {
      const body = objectBody(req);
      const o = await current(req);
      revisionAsked(body, o);
      if (o.spec.code.image)
        throw new ApiError(
          'InvalidParameterValueException',
          'ZipFile: this is an image function (PackageType Image); change its image with kubectl',
        );
      const zip = zipOf(
        { ZipFile: body.ZipFile, S3Bucket: body.S3Bucket, ImageUri: body.ImageUri },
        'ZipFile',
      );
      const fn = registry.get(o.metadata!.namespace!, o.metadata!.name!)!;
      const record = clusterRecord(o, fn);
      const { architectures } = roleAndArchitectures(body, record);
      const content = await upload(zip);
      if (body.DryRun === true) {
        res.json({
          ...view(o),
          CodeSize: content.size,
          CodeSha256: Buffer.from(content.sha256, 'hex').toString('base64'),
        });
        return;
      }
      const namespace = o.metadata!.namespace!;
      const configMap = await writes.putCode(namespace, fn.name, content.sha256, content.files);
      o.spec = checkedSpec({ ...o.spec, code: { configMap: { name: configMap } } });
      const token = publishToken(body);
      annotate(o, { ...lambdaOf(record), architectures, ...zipFields(content, configMap) }, token);
      const replaced = await writes.replaceFunction(o);
      await writes.adoptCode(namespace, configMap, replaced);
      // The controller copies code into ConfigMaps of its own before pods use it; older uploads are unused.
      await writes.pruneCode(namespace, fn.name, configMap);
      const version = token ? await publishedFor(namespace, fn.name, token) : undefined;
      res.json(view(replaced, version));
    },

    async updateConfiguration(req: Request, res: Response) {
      const body = objectBody(req);
      const o = await current(req);
      revisionAsked(body, o);
      const fn = registry.get(o.metadata!.namespace!, o.metadata!.name!)!;
      const record = clusterRecord(o, fn);
      const { role, architectures } = roleAndArchitectures(body, record);
      const spec = await layered(
        fn.namespace,
        specFromRequest(body, o.spec, POD_CODE_DIR),
        record.unzippedSize,
      );
      o.spec = { ...spec, code: o.spec.code };
      const configMap = lambdaAnnotation(o)?.configMap ?? '';
      annotate(o, { ...lambdaOf(record), role, architectures, configMap }, undefined);
      res.json(view(await writes.replaceFunction(o)));
    },

    async delete(req: Request, res: Response) {
      const { fn, qualifier } = changes.find(String(req.params.functionName), query(req, 'Qualifier'));
      if (qualifier !== undefined)
        throw new ApiError(
          'InvalidParameterValueException',
          'Qualifier: in a cluster, published versions are kept by the controller; delete the function',
        );
      for (const alias of writes.catalog.aliasesOf(fn.namespace, fn.name))
        await writes.deleteAlias(fn.namespace, fn.name, alias.name, alias.objectName);
      await writes.deleteFunction(fn.namespace, fn.name);
      res.status(204).end();
    },

    async publish(req: Request, res: Response) {
      const o = await current(req);
      const body = objectBody(req);
      revisionAsked(body, o);
      if (typeof body.Description === 'string' && body.Description !== (o.spec.description ?? ''))
        throw new ApiError(
          'InvalidParameterValueException',
          'Description: in a cluster a version takes the function description; set it with UpdateFunctionConfiguration',
        );
      const token = randomUUID();
      const namespace = o.metadata!.namespace!;
      const patched = await writes.requestPublish(
        namespace,
        o.metadata!.name!,
        token,
        o.metadata!.resourceVersion!,
      );
      res.status(201).json(view(patched, await publishedFor(namespace, o.metadata!.name!, token)));
    },
  };
}

/** The annotation's fields of a record, stamped now. */
function lambdaOf(record: ApiFunctionRecord): Omit<LambdaAnnotation, 'configMap'> {
  const { role, architectures, tags, codeSha256, codeSize, unzippedSize } = record;
  const { urlCreatedAt, urlModifiedAt, eventInvokeModifiedAt } = record;
  return {
    role,
    architectures,
    tags,
    codeSha256,
    codeSize,
    unzippedSize,
    lastModified: new Date().toISOString(),
    urlCreatedAt,
    urlModifiedAt,
    eventInvokeModifiedAt,
  };
}

/** The operations that, in a cluster, write resources (or read what only the cluster has), by name. */
export function clusterOperations(
  changes: FunctionChanges,
  writes: KubernetesWrites,
): Partial<Record<string, (req: Request, res: Response) => unknown>> {
  const fns = clusterFunctionHandlers(changes, writes);
  const aliases = clusterAliasHandlers(changes, writes);
  const store = clusterSettings(changes, writes);
  const settings = settingHandlers(changes, store);
  const loops = recursionConfigHandlers(changes, store);
  return {
    CreateFunction: fns.create,
    UpdateFunctionCode: fns.updateCode,
    UpdateFunctionConfiguration: fns.updateConfiguration,
    DeleteFunction: fns.delete,
    PublishVersion: fns.publish,
    ListVersionsByFunction: aliases.listVersions,
    CreateAlias: aliases.createAlias,
    GetAlias: aliases.getAlias,
    UpdateAlias: aliases.updateAlias,
    ListAliases: aliases.listAliases,
    DeleteAlias: aliases.deleteAlias,
    // The settings (ADR-45): written onto the Function resource, and read with what only it has.
    PutFunctionConcurrency: settings.putConcurrency,
    DeleteFunctionConcurrency: settings.deleteConcurrency,
    CreateFunctionUrlConfig: settings.createUrl,
    GetFunctionUrlConfig: settings.getUrl,
    UpdateFunctionUrlConfig: settings.updateUrl,
    DeleteFunctionUrlConfig: settings.deleteUrl,
    ListFunctionUrlConfigs: settings.listUrls,
    AddPermission: settings.addPermission,
    GetPolicy: settings.getPolicy,
    RemovePermission: settings.removePermission,
    PutFunctionEventInvokeConfig: settings.putEventInvokeConfig,
    UpdateFunctionEventInvokeConfig: settings.updateEventInvokeConfig,
    GetFunctionEventInvokeConfig: settings.getEventInvokeConfig,
    DeleteFunctionEventInvokeConfig: settings.deleteEventInvokeConfig,
    PutFunctionRecursionConfig: loops.put,
    TagResource: settings.tag,
    UntagResource: settings.untag,
    ListTags: settings.listTags,
  };
}
