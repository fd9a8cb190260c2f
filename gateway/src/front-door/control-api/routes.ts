// The control-plane API's one route table (reference §14.3: each operation keeps the API version date AWS
// gives it). Handlers live with their resource; errors become the wire in error-middleware.ts.
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { ProvisionedConcurrency } from '../../provisioned/provisioned-concurrency.ts';
import { apiRouter } from '../api-router.ts';
import type { ClusterApi } from './cluster-api.ts';
import { type FunctionChangeDeps, FunctionChanges } from './function-changes.ts';
import { functionHandlers } from './function-handlers.ts';
import { layerHandlers } from './layer-handlers.ts';
import { provisionedConcurrencyHandlers } from './provisioned-concurrency.ts';
import { recursionConfigHandlers } from './recursion-config.ts';
import { settingHandlers } from './setting-handlers.ts';
import { versionHandlers } from './version-handlers.ts';

export type ControlApiDeps = FunctionChangeDeps & {
  /** Provisioned concurrency; absent only in a cluster gateway that cannot write Alias resources. */
  provisioned?: ProvisionedConcurrency | undefined;
  /** A cluster gateway that writes resources: its handlers and layer store (loaded by gateway.ts). */
  clusterApi?: ClusterApi | undefined;
};

/** A base64 zip of up to 50 MB is about 70 MB of JSON; everything else is small. */
const PACKAGE_BODY_LIMIT = 70 * 1024 * 1024;
const SMALL_BODY_LIMIT = 256 * 1024;

export function controlApiRoutes(deps: ControlApiDeps): Router {
  const changes = new FunctionChanges(deps);
  const fns = functionHandlers(changes);
  const settings = settingHandlers(changes);
  const versions = versionHandlers(changes);
  const layers = layerHandlers(deps.config, deps.clusterApi ? deps.clusterApi.layers : deps.layers);
  const router = apiRouter();
  const small = body(SMALL_BODY_LIMIT);
  const pkg = body(PACKAGE_BODY_LIMIT);
  const F = '/2015-03-31/functions';
  const fn = `${F}/:functionName`;
  const L = '/2018-10-31/layers';
  const lv = `${L}/:layerName/versions/:version`;
  const concurrency = '/2017-10-31/functions/:functionName/concurrency';
  const url = '/2021-10-31/functions/:functionName/url';
  const invokeConfig = '/2019-09-25/functions/:functionName/event-invoke-config';
  const recursion = '/2024-08-31/functions/:functionName/recursion-config';
  const loops = recursionConfigHandlers(changes);
  const provisioned = '/2019-09-30/functions/:functionName/provisioned-concurrency';
  const pc = provisionedConcurrencyHandlers(deps.config, changes, deps.provisioned);
  type Handler = (req: Request, res: Response) => unknown;
  const routes: Array<
    [method: 'get' | 'post' | 'put' | 'delete', path: string, op: string, handler: Handler]
  > = [
    ['post', F, 'CreateFunction', fns.create],
    ['get', F, 'ListFunctions', fns.list],
    ['get', `${F}/`, 'ListFunctions', fns.list],
    ['get', fn, 'GetFunction', fns.get],
    ['delete', fn, 'DeleteFunction', fns.delete],
    ['get', `${fn}/configuration`, 'GetFunctionConfiguration', fns.getConfiguration],
    ['put', `${fn}/configuration`, 'UpdateFunctionConfiguration', fns.updateConfiguration],
    ['put', `${fn}/code`, 'UpdateFunctionCode', fns.updateCode],
    ['post', `${fn}/versions`, 'PublishVersion', versions.publish],
    ['get', `${fn}/versions`, 'ListVersionsByFunction', versions.listVersions],
    ['post', `${fn}/aliases`, 'CreateAlias', versions.createAlias],
    ['get', `${fn}/aliases`, 'ListAliases', versions.listAliases],
    ['get', `${fn}/aliases/:alias`, 'GetAlias', versions.getAlias],
    ['put', `${fn}/aliases/:alias`, 'UpdateAlias', versions.updateAlias],
    ['delete', `${fn}/aliases/:alias`, 'DeleteAlias', versions.deleteAlias],
    ['post', `${fn}/policy`, 'AddPermission', settings.addPermission],
    ['get', `${fn}/policy`, 'GetPolicy', settings.getPolicy],
    ['delete', `${fn}/policy/:statementId`, 'RemovePermission', settings.removePermission],
    ['put', concurrency, 'PutFunctionConcurrency', settings.putConcurrency],
    ['delete', concurrency, 'DeleteFunctionConcurrency', settings.deleteConcurrency],
    [
      'get',
      '/2019-09-30/functions/:functionName/concurrency',
      'GetFunctionConcurrency',
      settings.getConcurrency,
    ],
    ['post', url, 'CreateFunctionUrlConfig', settings.createUrl],
    ['get', url, 'GetFunctionUrlConfig', settings.getUrl],
    ['put', url, 'UpdateFunctionUrlConfig', settings.updateUrl],
    ['delete', url, 'DeleteFunctionUrlConfig', settings.deleteUrl],
    ['get', `${url}s`, 'ListFunctionUrlConfigs', settings.listUrls],
    ['put', invokeConfig, 'PutFunctionEventInvokeConfig', settings.putEventInvokeConfig],
    ['post', invokeConfig, 'UpdateFunctionEventInvokeConfig', settings.updateEventInvokeConfig],
    ['get', invokeConfig, 'GetFunctionEventInvokeConfig', settings.getEventInvokeConfig],
    ['delete', invokeConfig, 'DeleteFunctionEventInvokeConfig', settings.deleteEventInvokeConfig],
    ['put', recursion, 'PutFunctionRecursionConfig', loops.put],
    ['get', recursion, 'GetFunctionRecursionConfig', loops.get],
    ['put', provisioned, 'PutProvisionedConcurrencyConfig', pc.put],
    // With List=ALL this is ListProvisionedConcurrencyConfigs (the handler and the guard tell them apart).
    ['get', provisioned, 'GetProvisionedConcurrencyConfig', pc.get],
    ['delete', provisioned, 'DeleteProvisionedConcurrencyConfig', pc.delete],
    ['post', '/2017-03-31/tags/:arn', 'TagResource', settings.tag],
    ['delete', '/2017-03-31/tags/:arn', 'UntagResource', settings.untag],
    ['get', '/2017-03-31/tags/:arn', 'ListTags', settings.listTags],
    ['get', '/2016-08-19/account-settings', 'GetAccountSettings', settings.accountSettings],
    ['get', '/2016-08-19/account-settings/', 'GetAccountSettings', settings.accountSettings],
    ['get', L, 'ListLayers', layers.list],
    ['post', `${L}/:layerName/versions`, 'PublishLayerVersion', layers.publish],
    ['get', `${L}/:layerName/versions`, 'ListLayerVersions', layers.listVersions],
    ['get', lv, 'GetLayerVersion', layers.get],
    ['delete', lv, 'DeleteLayerVersion', layers.delete],
    ['post', `${lv}/policy`, 'AddLayerVersionPermission', layers.addPermission],
    ['get', `${lv}/policy`, 'GetLayerVersionPolicy', layers.getPolicy],
    ['delete', `${lv}/policy/:statementId`, 'RemoveLayerVersionPermission', layers.removePermission],
  ];
  const packageOperations = new Set(['CreateFunction', 'UpdateFunctionCode', 'PublishLayerVersion']);
  const inCluster = deps.clusterApi ? deps.clusterApi.operations(changes) : {};
  for (const [method, path, op, fullHandler] of routes) {
    // Functions, versions, aliases (ADR-39) and settings (ADR-45) are resources the cluster handlers write,
    // layers ConfigMaps their store writes (ADR-46), and a change without one is refused there. Provisioned
    // concurrency has one handler for both modes: its store is the Alias resource in a cluster (ADR-51).
    if (deps.cluster && !deps.kube && path.startsWith(L)) continue;
    const clusterHandler = path.startsWith(L) ? fullHandler : inCluster[op];
    if (deps.cluster && !clusterHandler && /Alias|Version/.test(op)) continue;
    const handler =
      !deps.cluster || op.includes('ProvisionedConcurrency')
        ? fullHandler
        : (clusterHandler ?? (method === 'get' ? fullHandler : refuseInCluster));
    router[method](path, named(op), packageOperations.has(op) ? pkg : small, async (req, res, next) => {
      try {
        await handler(req, res);
      } catch (err) {
        next(err);
      }
    });
  }
  return router;
}

function refuseInCluster(): never {
  throw new ApiError(
    'ResourceConflictException',
    'In a cluster, this setting of a Function resource (serval.dev/v1alpha1) is changed with kubectl apply; ' +
      'this API reads it',
  );
}

/** Any content type: the AWS CLI sends JSON bodies without one on some operations. */
function body(limit: number): RequestHandler {
  return express.json({ limit, type: () => true });
}

/** The operation's name, for the error middleware's messages (RequestTooLargeException names it). */
function named(operation: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.lambdaOperation = operation;
    next();
  };
}
