// A function's settings outside its configuration: reserved concurrency, the function URL, the resource
// policy (AddPermission), the event-invoke config (`spec.async`), tags, and the account's limits and usage.
import type { Request, Response } from 'express';
import type { AsyncConfig, Destination } from '../../../../apis/async-config.ts';
import { ApiError } from '../../../../apis/errors.ts';
import { type PolicyStatement, PolicyStatementSchema } from '../../../../apis/function.ts';
import { isApiFunction } from '../../registry/api-functions.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import { lambdaAnnotation } from '../../registry/kubernetes-writes.ts';
import { UNZIPPED_LIMIT_BYTES, ZIPPED_LIMIT_BYTES } from '../../registry/zip-package.ts';
import { functionUrlId } from '../function-urls/url-table.ts';
import type { FunctionChanges } from './function-changes.ts';
import { lambdaTimestamp } from './function-configuration.ts';
import { objectBody, query, tagsOf } from './function-handlers.ts';

export function settingHandlers(changes: FunctionChanges) {
  const { config, store, registry, limits } = changes.deps;
  const fnOf = (req: Request) => changes.find(String(req.params.functionName)).fn;
  const arnOf = (fn: FunctionDefinition, qualifier?: string) =>
    functionArn(config.region, fn.namespace, fn.name, qualifier);

  const urlConfig = (req: Request, fn: FunctionDefinition) => {
    const url = fn.spec.url;
    if (!url) throw new ApiError('ResourceNotFoundException', `The resource you requested does not exist.`);
    const record = store.get(fn.namespace, fn.name);
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
  const urlSpec = (
    body: Record<string, unknown>,
    qualifier: string | undefined,
    current = {} as Record<string, unknown>,
  ) => {
    const auth = body.AuthType ?? (current.authType === 'JWT' ? 'AWS_IAM' : current.authType);
    if (auth !== 'NONE' && auth !== 'AWS_IAM')
      throw new ApiError('InvalidParameterValueException', 'AuthType: must be NONE or AWS_IAM');
    return {
      ...current,
      // AWS_IAM: only authenticated callers allowed by policy (the gateway's bearer tokens or signatures).
      authType: auth === 'AWS_IAM' ? 'JWT' : 'NONE',
      ...(body.Cors !== undefined ? { cors: corsFromWire(body.Cors) } : {}),
      ...(body.InvokeMode !== undefined ? { invokeMode: body.InvokeMode } : {}),
      ...(qualifier !== undefined ? { qualifier } : {}),
    };
  };

  return {
    putConcurrency(req: Request, res: Response) {
      const body = objectBody(req);
      const reserved = body.ReservedConcurrentExecutions;
      if (typeof reserved !== 'number' || !Number.isInteger(reserved) || reserved < 0)
        throw new ApiError(
          'InvalidParameterValueException',
          'ReservedConcurrentExecutions: must be an integer of at least 0',
        );
      changes.commit(fnOf(req), undefined, (r) => ({
        ...r,
        spec: { ...r.spec, reservedConcurrency: reserved },
      }));
      res.json({ ReservedConcurrentExecutions: reserved });
    },
    getConcurrency(req: Request, res: Response) {
      const reserved = fnOf(req).spec.reservedConcurrency;
      res.json(reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved });
    },
    deleteConcurrency(req: Request, res: Response) {
      changes.commit(fnOf(req), undefined, (r) => {
        const { reservedConcurrency: _, ...spec } = r.spec;
        return { ...r, spec: spec as typeof r.spec };
      });
      res.status(204).end();
    },

    createUrl(req: Request, res: Response) {
      const fn = fnOf(req);
      if (fn.spec.url && isApiFunction(fn))
        throw new ApiError(
          'ResourceConflictException',
          `Failed to create function url config for [functionArn = ${arnOf(fn)}]. Error message:  FunctionUrlConfig exists for this Lambda function`,
        );
      const body = objectBody(req);
      const now = new Date().toISOString();
      const next = changes.commit(fn, undefined, (r) => ({
        ...r,
        urlCreatedAt: now,
        urlModifiedAt: now,
        spec: { ...r.spec, url: urlSpec(body, query(req, 'Qualifier')) as typeof r.spec.url },
      }));
      const { LastModifiedTime: _, ...created } = urlConfig(req, registry.get(next.namespace, next.name)!);
      res.status(201).json(created);
    },
    getUrl(req: Request, res: Response) {
      res.json(urlConfig(req, fnOf(req)));
    },
    listUrls(req: Request, res: Response) {
      const fn = fnOf(req);
      res.json({ FunctionUrlConfigs: fn.spec.url ? [urlConfig(req, fn)] : [] });
    },
    updateUrl(req: Request, res: Response) {
      const fn = fnOf(req);
      urlConfig(req, fn); // 404 without one
      const body = objectBody(req);
      const next = changes.commit(fn, undefined, (r) => ({
        ...r,
        urlModifiedAt: new Date().toISOString(),
        spec: { ...r.spec, url: urlSpec(body, query(req, 'Qualifier'), r.spec.url) as typeof r.spec.url },
      }));
      res.json(urlConfig(req, registry.get(next.namespace, next.name)!));
    },
    deleteUrl(req: Request, res: Response) {
      const fn = fnOf(req);
      urlConfig(req, fn);
      changes.commit(fn, undefined, (r) => {
        const { url: _, ...spec } = r.spec;
        return { ...r, urlCreatedAt: undefined, urlModifiedAt: undefined, spec: spec as typeof r.spec };
      });
      res.status(204).end();
    },

    addPermission(req: Request, res: Response) {
      const { fn, qualifier } = changes.find(String(req.params.functionName), query(req, 'Qualifier'));
      const body = objectBody(req);
      const statement = statementOf(body, arnOf(fn, qualifier));
      const revision = typeof body.RevisionId === 'string' ? body.RevisionId : undefined;
      changes.commit(fn, revision, (r) => {
        const statements = r.spec.policy?.statements ?? [];
        if (statements.some((s) => s.Sid === statement.Sid))
          throw new ApiError(
            'ResourceConflictException',
            `The statement id (${statement.Sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
          );
        return { ...r, spec: { ...r.spec, policy: { statements: [...statements, statement] } } };
      });
      res.status(201).json({ Statement: JSON.stringify(statement) });
    },
    getPolicy(req: Request, res: Response) {
      const { fn } = changes.find(String(req.params.functionName), query(req, 'Qualifier'));
      const statements = fn.spec.policy?.statements ?? [];
      if (statements.length === 0)
        throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
      res.json({
        Policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements }),
        RevisionId: store.get(fn.namespace, fn.name)?.revisionId ?? '',
      });
    },
    removePermission(req: Request, res: Response) {
      const { fn } = changes.find(String(req.params.functionName), query(req, 'Qualifier'));
      const sid = String(req.params.statementId);
      changes.commit(fn, query(req, 'RevisionId'), (r) => {
        const statements = r.spec.policy?.statements ?? [];
        const kept = statements.filter((s) => s.Sid !== sid);
        if (kept.length === statements.length)
          throw new ApiError(
            'ResourceNotFoundException',
            `Statement ${sid} is not found in resource policy.`,
          );
        const { policy: _, ...spec } = r.spec;
        return {
          ...r,
          spec: kept.length ? { ...spec, policy: { statements: kept } } : (spec as typeof r.spec),
        };
      });
      res.status(204).end();
    },

    putEventInvokeConfig(req: Request, res: Response) {
      writeEventInvokeConfig(req, res, false);
    },
    updateEventInvokeConfig(req: Request, res: Response) {
      writeEventInvokeConfig(req, res, true);
    },
    getEventInvokeConfig(req: Request, res: Response) {
      const fn = withInvokeConfig(req);
      res.json(eventInvokeView(fn, store.get(fn.namespace, fn.name)?.eventInvokeModifiedAt));
    },
    deleteEventInvokeConfig(req: Request, res: Response) {
      const fn = withInvokeConfig(req);
      changes.commit(fn, undefined, (r) => {
        const { async: _, ...spec } = r.spec;
        return { ...r, eventInvokeModifiedAt: undefined, spec: spec as typeof r.spec };
      });
      res.status(204).end();
    },

    tag(req: Request, res: Response) {
      const fn = fnOfArn(req);
      const tags = tagsOf(objectBody(req).Tags);
      changes.commit(fn, undefined, (r) => ({ ...r, tags: { ...r.tags, ...tags } }));
      res.status(204).end();
    },
    untag(req: Request, res: Response) {
      const fn = fnOfArn(req);
      const raw = req.query.tagKeys;
      const keys = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
      changes.commit(fn, undefined, (r) => ({
        ...r,
        tags: Object.fromEntries(Object.entries(r.tags).filter(([k]) => !keys.includes(k))),
      }));
      res.status(204).end();
    },
    listTags(req: Request, res: Response) {
      const fn = fnOfArn(req);
      // In a cluster the tags given at creation live on the Function's annotation (ADR-39).
      const resource = changes.deps.kube?.catalog.functionObject(fn.namespace, fn.name);
      const tags = resource ? lambdaAnnotation(resource)?.tags : store.get(fn.namespace, fn.name)?.tags;
      res.json({ Tags: tags ?? {} });
    },

    accountSettings(_req: Request, res: Response) {
      const namespace = config.defaultNamespace;
      const pool = limits.snapshot().find((s) => s.namespace === namespace);
      res.json({
        AccountLimit: {
          TotalCodeSize: config.codeStorageLimitBytes,
          CodeSizeUnzipped: UNZIPPED_LIMIT_BYTES,
          CodeSizeZipped: ZIPPED_LIMIT_BYTES,
          ConcurrentExecutions: config.accountConcurrencyLimit,
          UnreservedConcurrentExecutions: pool?.unreservedLimit ?? config.accountConcurrencyLimit,
        },
        AccountUsage: {
          TotalCodeSize: store.totalCodeSize(),
          FunctionCount: registry.list().filter((f) => f.namespace === namespace).length,
        },
      });
    },
  };

  function withInvokeConfig(req: Request): FunctionDefinition {
    const fn = fnOf(req);
    if (!fn.spec.async)
      throw new ApiError(
        'ResourceNotFoundException',
        `The function ${arnOf(fn)} doesn't have an EventInvokeConfig`,
      );
    return fn;
  }

  function fnOfArn(req: Request): FunctionDefinition {
    const arn = String(req.params.arn);
    if (!arn.startsWith('arn:'))
      throw new ApiError('InvalidParameterValueException', 'Resource: must be a function ARN');
    return changes.find(arn).fn;
  }

  function writeEventInvokeConfig(req: Request, res: Response, merge: boolean): void {
    const fn = fnOf(req);
    const body = objectBody(req);
    const now = new Date().toISOString();
    const next = changes.commit(fn, undefined, (r) => {
      const base: Partial<AsyncConfig> = merge ? (r.spec.async ?? {}) : {};
      const dest = body.DestinationConfig as
        | { OnSuccess?: { Destination?: unknown }; OnFailure?: { Destination?: unknown } }
        | undefined;
      const destinations = {
        ...(merge ? base.destinations : {}),
        ...(dest?.OnSuccess ? { onSuccess: destinationOf(dest.OnSuccess.Destination, 'OnSuccess') } : {}),
        ...(dest?.OnFailure ? { onFailure: destinationOf(dest.OnFailure.Destination, 'OnFailure') } : {}),
      };
      const async = {
        ...base,
        ...(body.MaximumRetryAttempts !== undefined
          ? { maximumRetryAttempts: body.MaximumRetryAttempts }
          : {}),
        ...(body.MaximumEventAgeInSeconds !== undefined
          ? { maximumEventAgeSeconds: body.MaximumEventAgeInSeconds }
          : {}),
        ...(Object.keys(destinations).length ? { destinations } : {}),
      } as AsyncConfig;
      return { ...r, eventInvokeModifiedAt: now, spec: { ...r.spec, async } };
    });
    res.json(eventInvokeView(registry.get(next.namespace, next.name)!, now));
  }

  function eventInvokeView(fn: FunctionDefinition, modifiedAt: string | undefined) {
    const a = fn.spec.async!;
    const wire = (d: Destination | undefined) =>
      d ? { Destination: d.function ?? d.http?.url ?? `nats:${d.nats?.subject}` } : undefined;
    const onSuccess = wire(a.destinations?.onSuccess);
    const onFailure = wire(a.destinations?.onFailure);
    return {
      LastModified: new Date(modifiedAt ?? 0).getTime() / 1000,
      FunctionArn: arnOf(fn, '$LATEST'),
      MaximumRetryAttempts: a.maximumRetryAttempts,
      MaximumEventAgeInSeconds: a.maximumEventAgeSeconds,
      DestinationConfig: {
        ...(onSuccess ? { OnSuccess: onSuccess } : {}),
        ...(onFailure ? { OnFailure: onFailure } : {}),
      },
    };
  }
}

/** AddPermission's parameters as a statement of Serval's policy grammar. */
function statementOf(body: Record<string, unknown>, resource: string): PolicyStatement {
  const principal = body.Principal;
  const candidate = {
    Sid: body.StatementId,
    Effect: 'Allow',
    Principal: principal === '*' ? '*' : { Serval: principal },
    Action: body.Action,
    Resource: resource,
  };
  for (const unsupported of ['SourceArn', 'SourceAccount', 'PrincipalOrgID', 'EventSourceToken'])
    if (body[unsupported] !== undefined)
      throw new ApiError('InvalidParameterValueException', `${unsupported}: is not supported by Serval`);
  if (typeof body.StatementId !== 'string' || !/^[a-zA-Z0-9-_]{1,100}$/.test(body.StatementId))
    throw new ApiError('InvalidParameterValueException', 'StatementId: must be 1-100 of [a-zA-Z0-9-_]');
  const parsed = PolicyStatementSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field =
      issue.path[0] === 'Principal' ? 'Principal' : issue.path[0] === 'Action' ? 'Action' : 'Statement';
    const hint = field === 'Principal' ? ' (*, a namespace or serval:<issuer>:<subject>)' : '';
    throw new ApiError('InvalidParameterValueException', `${field}: ${issue.message}${hint}`);
  }
  return parsed.data;
}

function destinationOf(value: unknown, field: string): Destination {
  if (
    typeof value !== 'string' ||
    !/^arn:(serval|aws):lambda:[^:]+:[^:]+:function:[^:]+(:[^:]+)?$/.test(value)
  )
    throw new ApiError(
      'InvalidParameterValueException',
      `DestinationConfig.${field}.Destination: must be a function ARN (HTTP and NATS destinations are set in the manifest)`,
    );
  return { function: value };
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
