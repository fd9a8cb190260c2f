// A function's settings outside its configuration: reserved concurrency, the function URL, the resource
// policy (AddPermission), the event-invoke config (`spec.async`), tags, and the account's limits and usage.
// The SettingStore says where a function is read and written: local mode's store, or in a cluster the
// Function resource (ADR-45); validation and AWS's shapes are the same for both.
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { FunctionSpec } from '../../../../apis/function.ts';
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import { UNZIPPED_LIMIT_BYTES, ZIPPED_LIMIT_BYTES } from '../../registry/zip-package.ts';
import { eventInvokeHandlers } from './event-invoke-handlers.ts';
import type { FunctionChanges } from './function-changes.ts';
import { objectBody, tagsOf } from './function-handlers.ts';
import { policyHandlers } from './policy-handlers.ts';
import { localSettings, type SettingStore } from './setting-store.ts';
import { urlConfigHandlers } from './url-config-handlers.ts';

export function settingHandlers(changes: FunctionChanges, settings: SettingStore = localSettings(changes)) {
  const { config, store, registry, limits } = changes.deps;
  const fnOf = (req: Request) => changes.find(String(req.params.functionName)).fn;

  return {
    ...urlConfigHandlers(changes, settings),
    ...policyHandlers(changes, settings),
    ...eventInvokeHandlers(changes, settings),

    async putConcurrency(req: Request, res: Response) {
      const body = objectBody(req);
      const reserved = body.ReservedConcurrentExecutions;
      if (typeof reserved !== 'number' || !Number.isInteger(reserved) || reserved < 0)
        throw new ApiError(
          'InvalidParameterValueException',
          'ReservedConcurrentExecutions: must be an integer of at least 0',
        );
      await settings.commit(fnOf(req), undefined, (r) => ({
        ...r,
        spec: { ...r.spec, reservedConcurrency: reserved },
      }));
      res.json({ ReservedConcurrentExecutions: reserved });
    },
    getConcurrency(req: Request, res: Response) {
      const reserved = fnOf(req).spec.reservedConcurrency;
      res.json(reserved === undefined ? {} : { ReservedConcurrentExecutions: reserved });
    },
    async deleteConcurrency(req: Request, res: Response) {
      await settings.commit(fnOf(req), undefined, (r) => {
        const { reservedConcurrency: _, ...spec } = r.spec;
        return { ...r, spec: spec as FunctionSpec };
      });
      res.status(204).end();
    },

    async tag(req: Request, res: Response) {
      const fn = fnOfArn(req);
      const tags = tagsOf(objectBody(req).Tags);
      await settings.commit(fn, undefined, (r) => ({ ...r, tags: { ...r.tags, ...tags } }));
      res.status(204).end();
    },
    async untag(req: Request, res: Response) {
      const fn = fnOfArn(req);
      const raw = req.query.tagKeys;
      const keys = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
      await settings.commit(fn, undefined, (r) => ({
        ...r,
        tags: Object.fromEntries(Object.entries(r.tags).filter(([k]) => !keys.includes(k))),
      }));
      res.status(204).end();
    },
    listTags(req: Request, res: Response) {
      res.json({ Tags: settings.record(fnOfArn(req))?.tags ?? {} });
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

  function fnOfArn(req: Request): FunctionDefinition {
    const arn = String(req.params.arn);
    if (!arn.startsWith('arn:'))
      throw new ApiError('InvalidParameterValueException', 'Resource: must be a function ARN');
    return changes.find(arn).fn;
  }
}
