// Create/Get/Update/Delete/ListFunctionUrlConfig(s) onto `spec.url` (reference §5), in local mode and in a
// cluster alike: the SettingStore says where the function is read and written.
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { FunctionSpec } from '../../../../apis/function.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import { functionUrlId } from '../function-urls/url-table.ts';
import type { FunctionChanges } from './function-changes.ts';
import { lambdaTimestamp } from './function-configuration.ts';
import { objectBody, query } from './function-handlers.ts';
import type { SettingStore } from './setting-store.ts';

export function urlConfigHandlers(changes: FunctionChanges, settings: SettingStore) {
  const { config } = changes.deps;
  const fnOf = (req: Request) => changes.find(String(req.params.functionName)).fn;
  const arnOf = (fn: FunctionDefinition, qualifier?: string) =>
    functionArn(config.region, fn.namespace, fn.name, qualifier);
  const notFound = () =>
    new ApiError('ResourceNotFoundException', `The resource you requested does not exist.`);

  const urlConfig = (req: Request, fn: FunctionDefinition) => {
    const url = fn.spec.url;
    if (!url) throw notFound();
    const record = settings.record(fn);
    const id = functionUrlId(fn.namespace, fn.name, url.qualifier ?? '$LATEST');
    return {
      FunctionUrl: `${req.protocol}://${req.get('host')}/lambda-url/${id}/`,
      FunctionArn: arnOf(fn, url.qualifier),
      AuthType: url.authType === 'JWT' ? 'AWS_IAM' : 'NONE',
      ...(url.cors ? { Cors: corsToWire(url.cors) } : {}),
      CreationTime: lambdaTimestamp(record?.urlCreatedAt ?? 0),
      LastModifiedTime: lambdaTimestamp(record?.urlModifiedAt ?? record?.urlCreatedAt ?? 0),
      InvokeMode: url.invokeMode,
    };
  };

  return {
    async createUrl(req: Request, res: Response) {
      const fn = fnOf(req);
      const body = objectBody(req);
      const now = new Date().toISOString();
      const next = await settings.commit(fn, undefined, (r) => {
        if (r.spec.url)
          throw new ApiError(
            'ResourceConflictException',
            `Failed to create function url config for [functionArn = ${arnOf(fn)}]. Error message:  FunctionUrlConfig exists for this Lambda function`,
          );
        return {
          ...r,
          urlCreatedAt: now,
          urlModifiedAt: now,
          spec: { ...r.spec, url: urlSpec(body, query(req, 'Qualifier')) },
        };
      });
      const { LastModifiedTime: _, ...created } = urlConfig(req, next);
      res.status(201).json(created);
    },
    getUrl(req: Request, res: Response) {
      res.json(urlConfig(req, fnOf(req)));
    },
    listUrls(req: Request, res: Response) {
      const fn = fnOf(req);
      res.json({ FunctionUrlConfigs: fn.spec.url ? [urlConfig(req, fn)] : [] });
    },
    async updateUrl(req: Request, res: Response) {
      const fn = fnOf(req);
      urlConfig(req, fn); // 404 without one
      const body = objectBody(req);
      const next = await settings.commit(fn, undefined, (r) => {
        if (!r.spec.url) throw notFound(); // deleted since
        return {
          ...r,
          urlModifiedAt: new Date().toISOString(),
          spec: { ...r.spec, url: urlSpec(body, query(req, 'Qualifier'), r.spec.url) },
        };
      });
      res.json(urlConfig(req, next));
    },
    async deleteUrl(req: Request, res: Response) {
      const fn = fnOf(req);
      urlConfig(req, fn);
      await settings.commit(fn, undefined, (r) => {
        const { url: _, ...spec } = r.spec;
        return { ...r, urlCreatedAt: undefined, urlModifiedAt: undefined, spec: spec as FunctionSpec };
      });
      res.status(204).end();
    },
  };
}

type UrlSpec = NonNullable<FunctionSpec['url']>;

/** The URL a Create/UpdateFunctionUrlConfig body asks for, over the current one; the schema checks the rest. */
function urlSpec(body: Record<string, unknown>, qualifier: string | undefined, current?: UrlSpec): UrlSpec {
  const auth = body.AuthType ?? (current?.authType === 'JWT' ? 'AWS_IAM' : current?.authType);
  if (auth !== 'NONE' && auth !== 'AWS_IAM')
    throw new ApiError('InvalidParameterValueException', 'AuthType: must be NONE or AWS_IAM');
  return {
    ...current,
    // AWS_IAM: only authenticated callers allowed by policy (the gateway's bearer tokens or signatures).
    authType: auth === 'AWS_IAM' ? 'JWT' : 'NONE',
    ...(body.Cors !== undefined ? { cors: corsFromWire(body.Cors) } : {}),
    ...(body.InvokeMode !== undefined ? { invokeMode: body.InvokeMode } : {}),
    ...(qualifier !== undefined ? { qualifier } : {}),
  } as UrlSpec;
}

function corsToWire(cors: Record<string, unknown>): Record<string, unknown> {
  const map: Record<string, string> = {
    allowOrigins: 'AllowOrigins',
    allowMethods: 'AllowMethods',
    allowHeaders: 'AllowHeaders',
    exposeHeaders: 'ExposeHeaders',
    allowCredentials: 'AllowCredentials',
    maxAge: 'MaxAge',
  };
  return Object.fromEntries(Object.entries(cors).map(([k, v]) => [map[k] ?? k, v]));
}

function corsFromWire(cors: unknown): Record<string, unknown> {
  if (typeof cors !== 'object' || cors === null)
    throw new ApiError('InvalidParameterValueException', 'Cors: must be an object');
  return Object.fromEntries(
    Object.entries(cors).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), v]),
  );
}
