// PublishLayerVersion, GetLayerVersion, ListLayers, ListLayerVersions, DeleteLayerVersion and the layer
// version's permissions, with AWS's shapes, over either store: files in local mode, ConfigMaps in a cluster
// (ADR-46). Layers live in the caller's namespace (the default one here).
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { RUNTIMES } from '../../../../apis/function.ts';
import type { GatewayConfig } from '../../config.ts';
import { type LayerVersionRecord, type LayerVersions, layerArn } from '../../registry/layer-store.ts';
import { BadPackageError, UNZIPPED_LIMIT_BYTES } from '../../registry/zip-package.ts';
import { lambdaTimestamp } from './function-configuration.ts';
import { objectBody, query, zipOf } from './function-handlers.ts';
import { pageOf } from './paging.ts';

const LAYER_NAME = /^[a-zA-Z0-9-_]{1,64}$/;

export function layerHandlers(config: GatewayConfig, layers: LayerVersions) {
  const namespace = config.defaultNamespace;
  const nameOf = (req: Request) => {
    const name = String(req.params.layerName);
    if (!LAYER_NAME.test(name))
      throw new ApiError('InvalidParameterValueException', 'LayerName: must be 1-64 of [a-zA-Z0-9-_]');
    return name;
  };
  const versionOf = async (req: Request): Promise<LayerVersionRecord> => {
    const name = nameOf(req);
    const number = Number(req.params.version);
    const record = Number.isInteger(number) ? await layers.get(namespace, name, number) : undefined;
    if (!record)
      throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return record;
  };
  const view = (r: LayerVersionRecord, withContent: boolean) => ({
    ...(withContent
      ? {
          Content: {
            CodeSha256: Buffer.from(r.codeSha256, 'hex').toString('base64'),
            CodeSize: r.codeSize,
          },
          LayerArn: layerArn(config.region, r.namespace, r.name),
        }
      : {}),
    LayerVersionArn: layerArn(config.region, r.namespace, r.name, r.version),
    Version: r.version,
    Description: r.description,
    CreatedDate: lambdaTimestamp(r.createdDate),
    CompatibleRuntimes: r.compatibleRuntimes,
    ...(r.licenseInfo !== undefined ? { LicenseInfo: r.licenseInfo } : {}),
    CompatibleArchitectures: r.compatibleArchitectures,
  });

  return {
    async publish(req: Request, res: Response) {
      const name = nameOf(req);
      const body = objectBody(req);
      const zip = zipOf(body.Content, 'Content.ZipFile');
      const runtimes = stringList(body.CompatibleRuntimes, 'CompatibleRuntimes', 15);
      const unknown = runtimes.find((r) => !(RUNTIMES as readonly string[]).includes(r));
      if (unknown)
        throw new ApiError(
          'InvalidParameterValueException',
          `CompatibleRuntimes: ${unknown} is not a supported runtime`,
        );
      const architectures = stringList(body.CompatibleArchitectures, 'CompatibleArchitectures', 2);
      if (architectures.some((a) => a !== 'x86_64' && a !== 'arm64'))
        throw new ApiError(
          'InvalidParameterValueException',
          'CompatibleArchitectures: must be x86_64 or arm64',
        );
      if (
        body.Description !== undefined &&
        (typeof body.Description !== 'string' || body.Description.length > 256)
      )
        throw new ApiError(
          'InvalidParameterValueException',
          'Description: must be a string of at most 256 characters',
        );
      let record: LayerVersionRecord;
      try {
        record = await layers.publish(
          {
            namespace,
            name,
            description: (body.Description as string | undefined) ?? '',
            compatibleRuntimes: runtimes,
            compatibleArchitectures: architectures,
            licenseInfo: typeof body.LicenseInfo === 'string' ? body.LicenseInfo : undefined,
          },
          zip,
          UNZIPPED_LIMIT_BYTES,
        );
      } catch (err) {
        if (err instanceof BadPackageError) throw new ApiError('InvalidParameterValueException', err.message);
        throw err;
      }
      res.status(201).json(view(record, true));
    },
    async get(req: Request, res: Response) {
      res.json(view(await versionOf(req), true));
    },
    async listVersions(req: Request, res: Response) {
      const all = (await layers.versions(namespace, nameOf(req))).reverse(); // newest first, as Lambda lists them
      const keyed = all.map((r) => ({ key: String(1e10 - r.version).padStart(11, '0'), r }));
      const page = pageOf(keyed, query(req, 'Marker'), query(req, 'MaxItems'));
      res.json({
        LayerVersions: page.items.map((i) => view(i.r, false)),
        ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      });
    },
    async list(req: Request, res: Response) {
      const names = await layers.names(namespace);
      const latest = await Promise.all(names.map(async (n) => (await layers.versions(namespace, n)).at(-1)));
      const named = names
        .map((name, i) => ({ key: name, latest: latest[i] }))
        .filter((l) => l.latest !== undefined);
      const page = pageOf(named, query(req, 'Marker'), query(req, 'MaxItems'));
      res.json({
        Layers: page.items.map((l) => ({
          LayerName: l.key,
          LayerArn: layerArn(config.region, namespace, l.key),
          LatestMatchingVersion: view(l.latest!, false),
        })),
        ...(page.nextMarker ? { NextMarker: page.nextMarker } : {}),
      });
    },
    async delete(req: Request, res: Response) {
      const name = nameOf(req);
      const number = Number(req.params.version);
      // Deleting a version that does not exist succeeds, as in Lambda.
      if (Number.isInteger(number)) await layers.delete(namespace, name, number);
      res.status(204).end();
    },
    async addPermission(req: Request, res: Response) {
      const record = await versionOf(req);
      const body = objectBody(req);
      if (typeof body.StatementId !== 'string' || !/^[a-zA-Z0-9-_]{1,100}$/.test(body.StatementId))
        throw new ApiError('InvalidParameterValueException', 'StatementId: must be 1-100 of [a-zA-Z0-9-_]');
      if (body.Action !== 'lambda:GetLayerVersion')
        throw new ApiError('InvalidParameterValueException', 'Action: must be lambda:GetLayerVersion');
      if (typeof body.Principal !== 'string' || body.Principal.length === 0)
        throw new ApiError('InvalidParameterValueException', 'Principal: is required');
      if (record.permissions.some((p) => p.StatementId === body.StatementId))
        throw new ApiError(
          'ResourceConflictException',
          `The statement id (${body.StatementId}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
        );
      const revision = query(req, 'RevisionId');
      if (revision !== undefined && revision !== record.policyRevisionId)
        throw new ApiError(
          'PreconditionFailedException',
          'The Revision Id provided does not match the latest Revision Id.',
        );
      const permission = {
        StatementId: body.StatementId,
        Action: body.Action,
        Principal: body.Principal,
        ...(typeof body.OrganizationId === 'string' ? { OrganizationId: body.OrganizationId } : {}),
      };
      const next = await layers.savePermissions(record, [...record.permissions, permission]);
      res.status(201).json({
        Statement: JSON.stringify(statementView(config, next, permission)),
        RevisionId: next.policyRevisionId,
      });
    },
    async getPolicy(req: Request, res: Response) {
      const record = await versionOf(req);
      if (record.permissions.length === 0)
        throw new ApiError('ResourceNotFoundException', 'No policy is associated with the given resource.');
      res.json({
        Policy: JSON.stringify({
          Version: '2012-10-17',
          Id: 'default',
          Statement: record.permissions.map((p) => statementView(config, record, p)),
        }),
        RevisionId: record.policyRevisionId,
      });
    },
    async removePermission(req: Request, res: Response) {
      const record = await versionOf(req);
      const sid = String(req.params.statementId);
      const kept = record.permissions.filter((p) => p.StatementId !== sid);
      if (kept.length === record.permissions.length)
        throw new ApiError('ResourceNotFoundException', `Statement ${sid} is not found in resource policy.`);
      await layers.savePermissions(record, kept);
      res.status(204).end();
    },
  };
}

function statementView(
  config: GatewayConfig,
  r: LayerVersionRecord,
  p: LayerVersionRecord['permissions'][number],
) {
  return {
    Sid: p.StatementId,
    Effect: 'Allow',
    Principal: p.Principal === '*' ? '*' : { AWS: p.Principal },
    Action: p.Action,
    Resource: layerArn(config.region, r.namespace, r.name, r.version),
    ...(p.OrganizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': p.OrganizationId } } } : {}),
  };
}

function stringList(value: unknown, field: string, max: number): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > max || value.some((v) => typeof v !== 'string'))
    throw new ApiError(
      'InvalidParameterValueException',
      `${field}: must be a list of at most ${max} strings`,
    );
  return value as string[];
}
