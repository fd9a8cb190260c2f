// PublishVersion, ListVersionsByFunction and the alias operations (CreateAlias, GetAlias, UpdateAlias,
// ListAliases, DeleteAlias), so `serval publish`/`serval alias` and the AWS CLI/SDKs work alike.
import type { Request, Response } from 'express';
import { ALIAS_NAME, type AliasSpec, AliasSpecSchema } from '../../../../apis/alias.ts';
import { ApiError } from '../../../../apis/errors.ts';
import { isApiFunction } from '../../registry/api-functions.ts';
import { hashDirectory } from '../../registry/code.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import type { AliasRecord } from '../../versions/alias-store.ts';
import type { VersionSource } from '../../versions/sources.ts';
import type { FunctionChanges } from './function-changes.ts';
import { functionConfiguration } from './function-configuration.ts';
import { query } from './function-handlers.ts';
import { pageOf } from './paging.ts';

export function versionHandlers(changes: FunctionChanges) {
  const { config, versions, aliases, store, layers } = changes.deps;
  const ctx = {
    region: config.region,
    layerSize: (arn: string) => layers.byArn(arn, config.region)?.unzippedSize,
  };
  const functionOf = (req: Request): FunctionDefinition => changes.find(String(req.params.functionName)).fn;
  const versionView = (fn: FunctionDefinition, v: ReturnType<typeof versions.get>) =>
    functionConfiguration(ctx, fn, isApiFunction(fn) ? store.get(fn.namespace, fn.name) : undefined, v);
  const aliasView = (fn: FunctionDefinition, a: AliasRecord) => aliasViewOf(config.region, fn, a);
  const aliasSpec = (fn: FunctionDefinition, body: Record<string, unknown>, current?: AliasSpec) =>
    aliasSpecOf(config.region, versions, fn, body, current);

  return {
    publish(req: Request, res: Response) {
      const fn = functionOf(req);
      const description = typeof req.body?.Description === 'string' ? req.body.Description : undefined;
      // A version snapshots the code as it is now: code.path directories may have changed since start-up
      // (an API function's package never changes; its hash is the zip's, as AWS reports it).
      const codeSha256 = isApiFunction(fn) ? fn.codeSha256 : hashDirectory(fn.codeDir);
      const { version } = versions.publish({ ...fn, codeSha256 }, description);
      res.status(201).json(versionView(fn, version));
    },

    listVersions(req: Request, res: Response) {
      const fn = functionOf(req);
      res.json({
        Versions: [
          versionView(fn, undefined),
          ...versions.list(fn.namespace, fn.name).map((v) => versionView(fn, v)),
        ],
      });
    },

    createAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      const name = String(req.body?.Name ?? '');
      if (!ALIAS_NAME.test(name))
        throw new ApiError('InvalidParameterValueException', `Name: invalid alias name "${name}"`);
      if (aliases.get(fn.namespace, fn.name, name)) {
        throw new ApiError(
          'ResourceConflictException',
          `Alias already exists: ${functionArn(config.region, fn.namespace, fn.name, name)}`,
        );
      }
      res.status(201).json(aliasView(fn, aliases.put(fn.namespace, name, aliasSpec(fn, req.body ?? {}))));
    },

    getAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      const alias = aliases.get(fn.namespace, fn.name, String(req.params.alias));
      if (!alias)
        throw new ApiError(
          'ResourceNotFoundException',
          `Alias not found: ${functionArn(config.region, fn.namespace, fn.name, String(req.params.alias))}`,
        );
      res.json(aliasView(fn, alias));
    },

    updateAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      const name = String(req.params.alias);
      const current = aliases.get(fn.namespace, fn.name, name);
      if (!current)
        throw new ApiError(
          'ResourceNotFoundException',
          `Alias not found: ${functionArn(config.region, fn.namespace, fn.name, name)}`,
        );
      const deployment = changes.deps.deploymentOf?.(fn.namespace, fn.name, name);
      if (deployment)
        throw new ApiError(
          'ResourceConflictException',
          `deployment ${deployment} is shifting this alias's traffic; stop or roll it back first (serval deploy)`,
        );
      res.json(aliasView(fn, aliases.put(fn.namespace, name, aliasSpec(fn, req.body ?? {}, current.spec))));
    },

    listAliases(req: Request, res: Response) {
      const fn = functionOf(req);
      res.json(aliasPage(req, aliases.list(fn.namespace, fn.name), (a) => aliasView(fn, a)));
    },

    deleteAlias(req: Request, res: Response) {
      const fn = functionOf(req);
      // Deleting an alias that does not exist succeeds, as in Lambda.
      aliases.delete(fn.namespace, fn.name, String(req.params.alias));
      res.status(204).end();
    },
  };
}

export function aliasViewOf(region: string, fn: FunctionDefinition, a: AliasRecord) {
  const weights = a.spec.routingConfig?.additionalVersionWeights;
  return {
    AliasArn: functionArn(region, fn.namespace, fn.name, a.name),
    Name: a.name,
    FunctionVersion: a.spec.functionVersion,
    Description: a.spec.description ?? '',
    // Lambda leaves RoutingConfig out when no version takes a share; OpenTofu's AWS provider sends an empty
    // one on every create and would otherwise plan a change forever.
    ...(weights && Object.keys(weights).length > 0
      ? { RoutingConfig: { AdditionalVersionWeights: weights } }
      : {}),
    RevisionId: a.revisionId,
  };
}

/** The Alias spec a CreateAlias/UpdateAlias body asks for, over `current`; every version it names exists. */
export function aliasSpecOf(
  region: string,
  versions: Pick<VersionSource, 'get'>,
  fn: FunctionDefinition,
  body: Record<string, unknown>,
  current?: AliasSpec,
): AliasSpec {
  const routing = body.RoutingConfig as { AdditionalVersionWeights?: Record<string, number> } | undefined;
  const parsed = AliasSpecSchema.safeParse({
    functionName: fn.name,
    functionVersion: body.FunctionVersion ?? current?.functionVersion,
    description: body.Description ?? current?.description,
    routingConfig: routing
      ? { additionalVersionWeights: routing.AdditionalVersionWeights ?? {} }
      : current?.routingConfig,
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError(
      'InvalidParameterValueException',
      `${issue.path.join('.') || 'alias'}: ${issue.message}`,
    );
  }
  for (const v of [
    parsed.data.functionVersion,
    ...Object.keys(parsed.data.routingConfig?.additionalVersionWeights ?? {}),
  ]) {
    if (v !== '$LATEST' && !versions.get(fn.namespace, fn.name, v)) {
      throw new ApiError(
        'ResourceNotFoundException',
        `Function not found: ${functionArn(region, fn.namespace, fn.name, v)}`,
      );
    }
  }
  return parsed.data;
}

/** ListAliases' answer: the aliases (of `FunctionVersion`, if given) by name, a page at a time. */
export function aliasPage(req: Request, aliases: AliasRecord[], view: (a: AliasRecord) => unknown) {
  const wanted = query(req, 'FunctionVersion');
  const all = aliases
    .filter((a) => wanted === undefined || a.spec.functionVersion === wanted)
    .map((a) => ({ key: a.name, a }))
    .sort((x, y) => (x.key < y.key ? -1 : 1));
  const page = pageOf(all, query(req, 'Marker'), query(req, 'MaxItems'));
  return {
    Aliases: page.items.map((i) => view(i.a)),
    ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
  };
}
