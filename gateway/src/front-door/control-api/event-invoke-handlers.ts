// Put/Update/Get/DeleteFunctionEventInvokeConfig onto `spec.async` (reference §7.2), in local mode and in a
// cluster alike (setting-store.ts). Destinations set through the API are functions; HTTP and NATS ones are
// the manifest's.
import type { Request, Response } from 'express';
import type { AsyncConfig, Destination } from '../../../../apis/async-config.ts';
import { ApiError } from '../../../../apis/errors.ts';
import type { FunctionSpec } from '../../../../apis/function.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import type { FunctionChanges } from './function-changes.ts';
import { objectBody } from './function-handlers.ts';
import type { SettingStore } from './setting-store.ts';

export function eventInvokeHandlers(changes: FunctionChanges, settings: SettingStore) {
  const { config } = changes.deps;
  const fnOf = (req: Request) => changes.find(String(req.params.functionName)).fn;
  const arnOf = (fn: FunctionDefinition, qualifier?: string) =>
    functionArn(config.region, fn.namespace, fn.name, qualifier);

  const withInvokeConfig = (req: Request): FunctionDefinition => {
    const fn = fnOf(req);
    if (!fn.spec.async)
      throw new ApiError(
        'ResourceNotFoundException',
        `The function ${arnOf(fn)} doesn't have an EventInvokeConfig`,
      );
    return fn;
  };

  const write = async (req: Request, res: Response, merge: boolean) => {
    const fn = fnOf(req);
    const body = objectBody(req);
    const now = new Date().toISOString();
    const next = await settings.commit(fn, undefined, (r) => {
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
    res.json(view(next, now));
  };

  const view = (fn: FunctionDefinition, modifiedAt: string | undefined) => {
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
  };

  return {
    putEventInvokeConfig: (req: Request, res: Response) => write(req, res, false),
    updateEventInvokeConfig: (req: Request, res: Response) => write(req, res, true),
    getEventInvokeConfig(req: Request, res: Response) {
      const fn = withInvokeConfig(req);
      res.json(view(fn, settings.record(fn)?.eventInvokeModifiedAt));
    },
    async deleteEventInvokeConfig(req: Request, res: Response) {
      const fn = withInvokeConfig(req);
      await settings.commit(fn, undefined, (r) => {
        const { async: _, ...spec } = r.spec;
        return { ...r, eventInvokeModifiedAt: undefined, spec: spec as FunctionSpec };
      });
      res.status(204).end();
    },
  };
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
