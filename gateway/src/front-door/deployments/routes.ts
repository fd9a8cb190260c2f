// Serval's deployment API (local mode): start a deployment on an alias, read its progress, stop it or roll
// it back. `serval deploy` is a thin client of these routes. In a cluster the Alias resource carries the
// deployment instead (kubectl), and the controller drives it.
import express, { type Request, type Router } from 'express';
import type { GatewayConfig } from '../../config.ts';
import type { LocalDeployments } from '../../deployments/local-deployments.ts';
import type { AliasRef } from '../../deployments/local-store.ts';
import { apiRouter } from '../api-router.ts';
import { parseFunctionRef } from '../function-ref.ts';

const BASE = '/serval/v1/deployments/:functionName/:alias';

export function deploymentRoutes(config: GatewayConfig, deployments: LocalDeployments): Router {
  const router = apiRouter();
  const json = express.json({ limit: '64kb', type: () => true });
  const refOf = (req: Request): AliasRef => {
    const fn = parseFunctionRef(
      String(req.params.functionName),
      undefined,
      config.defaultNamespace,
      config.region,
    );
    return { namespace: fn.namespace, functionName: fn.name, alias: String(req.params.alias) };
  };

  router.get(BASE, (req, res) => {
    res.json(deployments.view(refOf(req)));
  });
  router.post(BASE, json, (req, res) => {
    res.status(201).json(deployments.start(refOf(req), req.body ?? {}));
  });
  router.post(`${BASE}/stop`, async (req, res) => {
    res.json(await deployments.stop(refOf(req)));
  });
  router.post(`${BASE}/rollback`, async (req, res) => {
    res.json(await deployments.rollback(refOf(req)));
  });
  return router;
}
