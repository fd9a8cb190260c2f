// ListVersionsByFunction and the alias operations in a cluster (ADR-39): versions are the controller's
// ControllerRevisions (read), aliases are Alias resources the API writes, replacing with the
// resourceVersion it read, which is also the alias's RevisionId.
import type { Request, Response } from 'express';
import { ALIAS_NAME } from '../../../../apis/alias.ts';
import { ApiError } from '../../../../apis/errors.ts';
import { API_VERSION } from '../../../../apis/function.ts';
import type { AliasObject } from '../../../../kube/resources.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import { aliasObjectName, type KubernetesWrites } from '../../registry/kubernetes-writes.ts';
import type { AliasRecord } from '../../versions/alias-store.ts';
import { clusterRecord } from './cluster-code.ts';
import { checkRevision, type FunctionChanges } from './function-changes.ts';
import { functionConfiguration } from './function-configuration.ts';
import { objectBody } from './function-handlers.ts';
import { aliasPage, aliasSpecOf, aliasViewOf } from './version-handlers.ts';

export function clusterAliasHandlers(changes: FunctionChanges, writes: KubernetesWrites) {
  const { config } = changes.deps;
  const { catalog } = writes;
  const functionOf = (req: Request): FunctionDefinition => changes.find(String(req.params.functionName)).fn;
  const view = (fn: FunctionDefinition, a: AliasRecord) => aliasViewOf(config.region, fn, a);
  const record = (o: AliasObject): AliasRecord => ({
    name: o.spec.name ?? o.metadata!.name!,
    spec: o.spec,
    revisionId: o.metadata?.resourceVersion ?? '',
  });
  const notFound = (fn: FunctionDefinition, name: string) =>
    new ApiError(
      'ResourceNotFoundException',
      `Alias not found: ${functionArn(config.region, fn.namespace, fn.name, name)}`,
    );
  const existing = (fn: FunctionDefinition, name: string) => {
    const alias = catalog.alias(fn.namespace, fn.name, name);
    if (!alias) throw notFound(fn, name);
    return catalog.aliasesOf(fn.namespace, fn.name).find((a) => a.name === name)!;
  };

  return {
    listVersions(req: Request, res: Response) {
      const fn = functionOf(req);
      const o = catalog.functionObject(fn.namespace, fn.name);
      const record = o ? clusterRecord(o, fn) : undefined;
      const ctx = { region: config.region, layerSize: () => undefined };
      res.json({
        Versions: [
          functionConfiguration(ctx, fn, record),
          ...catalog.list(fn.namespace, fn.name).map((v) => functionConfiguration(ctx, fn, record, v)),
        ],
      });
    },

    async createAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      const body = objectBody(req);
      const name = String(body.Name ?? '');
      if (!ALIAS_NAME.test(name))
        throw new ApiError('InvalidParameterValueException', `Name: invalid alias name "${name}"`);
      if (catalog.alias(fn.namespace, fn.name, name))
        throw new ApiError(
          'ResourceConflictException',
          `Alias already exists: ${functionArn(config.region, fn.namespace, fn.name, name)}`,
        );
      const spec = { ...aliasSpecOf(config.region, catalog, fn, body), name };
      const created = await writes.createAlias({
        apiVersion: API_VERSION,
        kind: 'Alias',
        metadata: { name: aliasObjectName(fn.name, name), namespace: fn.namespace },
        spec,
      });
      res.status(201).json(view(fn, record(created)));
    },

    getAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      res.json(view(fn, existing(fn, String(req.params.alias))));
    },

    async updateAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      const name = String(req.params.alias);
      const { objectName } = existing(fn, name);
      const o = await writes.getAlias(fn.namespace, objectName);
      if (!o) throw notFound(fn, name);
      const body = objectBody(req);
      checkRevision(
        { revisionId: o.metadata?.resourceVersion ?? '' },
        typeof body.RevisionId === 'string' ? body.RevisionId : undefined,
      );
      if (o.spec.deployment)
        throw new ApiError(
          'ResourceConflictException',
          `Alias ${name} has a deployment (spec.deployment), which moves its traffic; change it with kubectl`,
        );
      o.spec = { ...o.spec, ...aliasSpecOf(config.region, catalog, fn, body, o.spec) };
      if (o.spec.name === undefined && name !== objectName) o.spec.name = name;
      res.json(view(fn, record(await writes.replaceAlias(o))));
    },

    listAliases(req: Request, res: Response) {
      const fn = functionOf(req);
      res.json(aliasPage(req, catalog.aliasesOf(fn.namespace, fn.name), (a) => view(fn, a)));
    },

    async deleteAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      const name = String(req.params.alias);
      // Deleting an alias that does not exist succeeds, as in Lambda.
      const alias = catalog.aliasesOf(fn.namespace, fn.name).find((a) => a.name === name);
      if (alias) await writes.deleteAlias(fn.namespace, fn.name, name, alias.objectName);
      res.status(204).end();
    },
  };
}
