// Put/GetFunctionRecursionConfig (reference §14.3): whether a function's recursive loops are stopped after
// 16 hops (`Terminate`, the default) or allowed. The setting lives on the function's definition as
// `spec.recursiveLoop`; a PUT changes the running definition without retiring its warm environments.
import express, { type Request, type Router } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { RECURSIVE_LOOP, type RecursiveLoop } from '../../../../apis/function.ts';
import type { GatewayConfig } from '../../config.ts';
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import { apiRouter } from '../api-router.ts';
import { namedFunction } from './function-lookup.ts';

const ROUTE = '/2024-08-31/functions/:functionName/recursion-config';

export function recursionConfigRoutes(deps: {
  config: GatewayConfig;
  registry: FunctionRegistry;
  /** Cluster mode: the Function resource is the one place to change it (kubectl), so PUT is refused. */
  writable: boolean;
}): Router {
  const { config, registry, writable } = deps;
  const router = apiRouter();
  const json = express.json({ limit: '16kb', type: () => true });

  const functionOf = (req: Request): FunctionDefinition =>
    namedFunction(config, registry, String(req.params.functionName));

  router.get(ROUTE, (req, res) => {
    res.json({ RecursiveLoop: functionOf(req).spec.recursiveLoop ?? 'Terminate' });
  });

  router.put(ROUTE, json, (req, res) => {
    const fn = functionOf(req);
    const value: unknown = req.body?.RecursiveLoop;
    if (!RECURSIVE_LOOP.includes(value as RecursiveLoop)) {
      throw new ApiError(
        'InvalidParameterValueException',
        `RecursiveLoop: must be one of ${RECURSIVE_LOOP.join(', ')}, got ${JSON.stringify(value ?? null)}`,
      );
    }
    if (!writable) {
      throw new ApiError(
        'InvalidParameterValueException',
        'RecursiveLoop: in a cluster, set spec.recursiveLoop on the Function resource',
      );
    }
    // Same code and revision: the put keeps the function's warm environments.
    registry.put({ ...fn, spec: { ...fn.spec, recursiveLoop: value as RecursiveLoop } });
    res.json({ RecursiveLoop: value });
  });

  return router;
}
