// Put/Get/Delete/ListProvisionedConcurrencyConfigs (reference §14.3): the wire side of provisioned
// concurrency; the rules and the allocation live in provisioned/provisioned-concurrency.ts. Local mode keeps
// the configurations in the data directory (ADR-41), a cluster on Alias resources (ADR-51).
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { GatewayConfig } from '../../config.ts';
import type { ProvisionedConcurrency, ProvisionedState } from '../../provisioned/provisioned-concurrency.ts';
import { functionArn } from '../../registry/function-definition.ts';
import type { FunctionChanges } from './function-changes.ts';
import { lambdaTimestamp } from './function-configuration.ts';
import { objectBody } from './function-handlers.ts';
import { pageOf } from './paging.ts';

export function provisionedConcurrencyHandlers(
  config: GatewayConfig,
  changes: FunctionChanges,
  provisioned: ProvisionedConcurrency | undefined,
) {
  const target = (req: Request) => {
    if (!provisioned) {
      // A cluster gateway started without the writes to Alias resources (the chart always grants them).
      throw new ApiError(
        'ResourceConflictException',
        'This gateway cannot write Alias resources, which hold provisioned concurrency in a cluster: ' +
          'set spec.provisionedConcurrency with kubectl (docs/provisioned-concurrency.md)',
      );
    }
    const qualifier = typeof req.query.Qualifier === 'string' ? req.query.Qualifier : undefined;
    // The function itself must exist first (a 404 names it); the qualifier is checked by the rules.
    const { fn } = changes.find(String(req.params.functionName));
    return { fn, qualifier, provisioned };
  };
  return {
    async put(req: Request, res: Response) {
      const { fn, qualifier, provisioned } = target(req);
      const state = await provisioned.put(fn, qualifier, objectBody(req).ProvisionedConcurrentExecutions);
      res.status(202).json(configView(state));
    },
    /** GetProvisionedConcurrencyConfig, or with `List=ALL` ListProvisionedConcurrencyConfigs. */
    get(req: Request, res: Response) {
      const { fn, qualifier, provisioned } = target(req);
      if (req.query.List !== 'ALL') {
        res.json(configView(provisioned.get(fn, qualifier)));
        return;
      }
      const maxItems = typeof req.query.MaxItems === 'string' ? req.query.MaxItems : undefined;
      if (maxItems !== undefined && Number(maxItems) > 50)
        throw new ApiError('InvalidParameterValueException', 'MaxItems: must be an integer from 1 to 50');
      const marker = typeof req.query.Marker === 'string' ? req.query.Marker : undefined;
      const items = provisioned.list(fn).map((s) => ({ key: s.config.qualifier, s }));
      const page = pageOf(items, marker, maxItems);
      res.json({
        ProvisionedConcurrencyConfigs: page.items.map(({ s }) => ({
          FunctionArn: functionArn(config.region, fn.namespace, fn.name, s.config.qualifier),
          ...configView(s),
        })),
        ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      });
    },
    async delete(req: Request, res: Response) {
      const { fn, qualifier, provisioned } = target(req);
      await provisioned.delete(fn, qualifier);
      res.status(204).end();
    },
  };
}

/** AWS's shape: Available equals Allocated, as environments are only counted once initialised. */
function configView(state: ProvisionedState) {
  return {
    RequestedProvisionedConcurrentExecutions: state.config.requested,
    AvailableProvisionedConcurrentExecutions: state.allocated,
    AllocatedProvisionedConcurrentExecutions: state.allocated,
    Status: state.status,
    ...(state.statusReason ? { StatusReason: state.statusReason } : {}),
    LastModified: lambdaTimestamp(state.config.lastModified),
  };
}
