// The slice of Lambda's control-plane API that local mode serves: PublishVersion, ListVersionsByFunction,
// CreateAlias, GetAlias, UpdateAlias — so `serval publish`/`serval alias` and the AWS CLI/SDKs work alike.
import express, { type Request, type Router } from 'express';
import { ALIAS_NAME, type AliasSpec, AliasSpecSchema } from '../../../../apis/alias.ts';
import { ApiError } from '../../../../apis/errors.ts';
import type { GatewayConfig } from '../../config.ts';
import { hashDirectory } from '../../registry/code.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import type { AliasRecord, AliasStore } from '../../versions/alias-store.ts';
import type { PublishedVersion, VersionStore } from '../../versions/version-store.ts';
import { apiRouter } from '../api-router.ts';
import { namedFunction } from './function-lookup.ts';

export interface ControlApiDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  versions: VersionStore;
  aliases: AliasStore;
}

const BASE = '/2015-03-31/functions/:functionName';

export function controlApiRoutes(deps: ControlApiDeps): Router {
  const { config, registry, versions, aliases } = deps;
  const router = apiRouter();
  const json = express.json({ limit: '256kb', type: () => true });

  const functionOf = (req: Request): FunctionDefinition =>
    namedFunction(config, registry, String(req.params.functionName));
  const versionView = (fn: FunctionDefinition, v: PublishedVersion | undefined) => ({
    FunctionName: fn.name,
    FunctionArn: functionArn(config.region, fn.namespace, fn.name, v?.version ?? '$LATEST'),
    Version: v?.version ?? '$LATEST',
    Runtime: (v?.spec ?? fn.spec).runtime,
    Handler: (v?.spec ?? fn.spec).handler,
    MemorySize: (v?.spec ?? fn.spec).memoryMB,
    Timeout: (v?.spec ?? fn.spec).timeoutSeconds,
    CodeSha256: Buffer.from(v?.codeSha256 ?? fn.codeSha256, 'hex').toString('base64'),
    Description: v?.description ?? fn.spec.description ?? '',
    LastModified: v?.publishedAt ?? '',
  });
  const aliasView = (fn: FunctionDefinition, a: AliasRecord) => ({
    AliasArn: functionArn(config.region, fn.namespace, fn.name, a.name),
    Name: a.name,
    FunctionVersion: a.spec.functionVersion,
    Description: a.spec.description ?? '',
    ...(a.spec.routingConfig
      ? { RoutingConfig: { AdditionalVersionWeights: a.spec.routingConfig.additionalVersionWeights } }
      : {}),
    RevisionId: a.revisionId,
  });
  const aliasSpec = (
    fn: FunctionDefinition,
    body: Record<string, unknown>,
    current?: AliasSpec,
  ): AliasSpec => {
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
          `Function not found: ${functionArn(config.region, fn.namespace, fn.name, v)}`,
        );
      }
    }
    return parsed.data;
  };

  router.post(`${BASE}/versions`, json, (req, res) => {
    const fn = functionOf(req);
    const description = typeof req.body?.Description === 'string' ? req.body.Description : undefined;
    // A version snapshots the code as it is now: code.path directories may have changed since start-up.
    const { version } = versions.publish({ ...fn, codeSha256: hashDirectory(fn.codeDir) }, description);
    res.status(201).json(versionView(fn, version));
  });

  router.get(`${BASE}/versions`, (req, res) => {
    const fn = functionOf(req);
    res.json({
      Versions: [
        versionView(fn, undefined),
        ...versions.list(fn.namespace, fn.name).map((v) => versionView(fn, v)),
      ],
    });
  });

  router.post(`${BASE}/aliases`, json, (req, res) => {
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
  });

  router.get(`${BASE}/aliases/:alias`, (req, res) => {
    const fn = functionOf(req);
    const alias = aliases.get(fn.namespace, fn.name, String(req.params.alias));
    if (!alias)
      throw new ApiError(
        'ResourceNotFoundException',
        `Alias not found: ${functionArn(config.region, fn.namespace, fn.name, String(req.params.alias))}`,
      );
    res.json(aliasView(fn, alias));
  });

  router.put(`${BASE}/aliases/:alias`, json, (req, res) => {
    const fn = functionOf(req);
    const name = String(req.params.alias);
    const current = aliases.get(fn.namespace, fn.name, name);
    if (!current)
      throw new ApiError(
        'ResourceNotFoundException',
        `Alias not found: ${functionArn(config.region, fn.namespace, fn.name, name)}`,
      );
    res.json(aliasView(fn, aliases.put(fn.namespace, name, aliasSpec(fn, req.body ?? {}, current.spec))));
  });

  return router;
}
