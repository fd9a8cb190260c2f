// Serval's operator API for access keys (no Lambda equivalent): issue, list and revoke the keys that the
// AWS CLI and SDKs sign with. `serval keys` is a thin client. The control-plane guard checks these routes
// like every operator route (serval:OperateOperatorApi to issue or revoke).
import express, { type Router } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { AccessKeys } from '../../auth/access-keys/access-keys.ts';
import type { GatewayConfig } from '../../config.ts';
import { apiRouter } from '../api-router.ts';

export interface AccessKeyDeps {
  config: GatewayConfig;
  keys: AccessKeys;
}

export function accessKeyRoutes({ config, keys }: AccessKeyDeps): Router {
  const router = apiRouter();
  const json = express.json({ limit: '16kb', type: () => true });

  router.post('/serval/v1/access-keys', json, (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = (field: string): string | undefined => {
      const value = body[field];
      if (value === undefined) return undefined;
      if (typeof value !== 'string')
        throw new ApiError('InvalidParameterValueException', `${field} must be a string`);
      return value;
    };
    const groups = body.groups;
    if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
      throw new ApiError('InvalidParameterValueException', 'groups must be a list of strings');
    }
    const identity = text('identity');
    if (!identity) throw new ApiError('InvalidParameterValueException', 'identity is required');
    const key = keys.create(
      {
        namespace: text('namespace') ?? config.defaultNamespace,
        identity,
        groups: groups as string[] | undefined,
        description: text('description'),
      },
      new Date(),
    );
    // The secret is in this answer only; nothing may keep a copy of it.
    res.status(201).set('Cache-Control', 'no-store').json(key);
  });

  router.get('/serval/v1/access-keys', (req, res) => {
    const namespace = typeof req.query.namespace === 'string' ? req.query.namespace : undefined;
    res.json({ accessKeys: keys.list().filter((k) => !namespace || k.namespace === namespace) });
  });

  router.delete('/serval/v1/access-keys/:accessKeyId', (req, res) => {
    keys.revoke(String(req.params.accessKeyId));
    res.status(204).end();
  });

  return router;
}
