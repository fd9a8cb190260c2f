// Lambda's event source mapping API (reference §14.3): Create, Get, List (paging), Update and Delete on
// /2015-03-31/event-source-mappings/. Routes are case-sensitive and strict, as Lambda's are; errors go to
// the shared error middleware. Locally the catalog is the data directory; in a cluster, the CRD.
import express, { type Request, Router } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { sourceKind } from '../../../../apis/event-source-mapping.ts';
import { MAPPING_TENANCY_CONFLICT } from '../../../../apis/function.ts';
import type { GatewayConfig } from '../../config.ts';
import type { MappingCatalog } from '../../event-sources/catalog.ts';
import type { MappingDefinition } from '../../event-sources/mapping.ts';
import type { MappingRuntime } from '../../event-sources/mapping-runtime.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import { type FunctionRef, parseFunctionRef } from '../function-ref.ts';
import { invalid, type RequestBody, specFromRequest } from './request.ts';
import { mappingView } from './view.ts';
import { sourceToWire } from './wire-source.ts';

export interface MappingApiDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  catalog: MappingCatalog;
  runtime: MappingRuntime;
}

const BASE = '/2015-03-31/event-source-mappings/';
/** The AWS CLI (botocore) sends the collection with a trailing slash, the SDK v3 without. */
const COLLECTION = '/2015-03-31/event-source-mappings{/}';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DEFAULT_MAX_ITEMS = 100;

export function eventSourceMappingRoutes(deps: MappingApiDeps): Router {
  const { config, registry, catalog, runtime } = deps;
  const router = Router({ caseSensitive: true, strict: true });
  // Parsed here, not by express.json, so a malformed body is Lambda's InvalidRequestContentException.
  const json = express.text({ limit: '256kb', type: () => true });
  const view = (m: MappingDefinition, state?: Parameters<typeof mappingView>[3]) =>
    mappingView(config.region, m, runtime.status(m.uuid), state);

  const functionOf = (raw: unknown): FunctionRef => {
    if (typeof raw !== 'string' || raw === '') throw invalid('FunctionName', 'is required');
    let ref: FunctionRef;
    try {
      ref = parseFunctionRef(raw, undefined, config.defaultNamespace);
    } catch (err) {
      throw err instanceof ApiError ? invalid('FunctionName', err.message) : err;
    }
    const fn = registry.get(ref.namespace, ref.name);
    if (!fn) {
      throw invalid('FunctionName', `function ${ref.namespace}/${ref.name} does not exist`);
    }
    // A mapping invokes without a tenant id, which Lambda's tenant isolation mode refuses.
    if (fn.spec.tenancy) throw invalid('FunctionName', MAPPING_TENANCY_CONFLICT);
    return ref;
  };
  const mappingOf = (req: Request): MappingDefinition => {
    const uuid = String(req.params.uuid);
    const m = UUID.test(uuid) ? catalog.get(uuid) : undefined;
    if (!m) throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
    return m;
  };
  const bodyOf = (req: Request): RequestBody => {
    let body: unknown;
    try {
      body = JSON.parse(typeof req.body === 'string' && req.body !== '' ? req.body : '{}');
    } catch {
      body = undefined;
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new ApiError('InvalidRequestContentException', 'Could not parse request body into json');
    }
    return body as RequestBody;
  };

  router.post(COLLECTION, json, async (req, res) => {
    const body = bodyOf(req);
    const ref = functionOf(body.FunctionName);
    const spec = specFromRequest(body, ref);
    const wanted = JSON.stringify(spec.source);
    const duplicate = catalog
      .list()
      .find(
        (m) =>
          m.namespace === ref.namespace &&
          m.spec.functionName === ref.name &&
          m.spec.qualifier === ref.qualifier &&
          JSON.stringify(m.spec.source) === wanted,
      );
    if (duplicate) {
      throw new ApiError(
        'ResourceConflictException',
        `An event source mapping with ${sourceKind(spec.source)} source ${sourceToWire(spec.source).EventSourceArn} ` +
          `and function ${ref.name} already exists. Please update or delete the existing mapping with UUID ${duplicate.uuid}`,
      );
    }
    const created = await catalog.create(ref.namespace, spec);
    res.status(202).json(view(created, 'Creating'));
  });

  router.get(COLLECTION, (req, res) => {
    const { FunctionName, EventSourceArn, Marker, MaxItems } = req.query;
    const max = MaxItems === undefined ? DEFAULT_MAX_ITEMS : Number(MaxItems);
    if (!Number.isInteger(max) || max < 1 || max > 10_000)
      throw invalid('MaxItems', 'must be from 1 to 10000');
    const ref = FunctionName === undefined ? undefined : functionOf(String(FunctionName));
    const all = catalog
      .list()
      .filter(
        (m) =>
          (!ref ||
            (m.namespace === ref.namespace &&
              m.spec.functionName === ref.name &&
              (ref.qualifier === undefined || m.spec.qualifier === ref.qualifier))) &&
          (EventSourceArn === undefined ||
            sourceToWire(m.spec.source).EventSourceArn === String(EventSourceArn)),
      )
      .sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
    const start = Marker === undefined ? 0 : all.findIndex((m) => m.uuid > String(Marker));
    const page = start < 0 ? [] : all.slice(start, start + max);
    const more = start >= 0 && start + max < all.length;
    res.json({
      EventSourceMappings: page.map((m) => view(m)),
      ...(more ? { NextMarker: page[page.length - 1]!.uuid } : {}),
    });
  });

  router.get(`${BASE}:uuid`, (req, res) => {
    res.json(view(mappingOf(req)));
  });

  router.put(`${BASE}:uuid`, json, async (req, res) => {
    const current = mappingOf(req);
    const body = bodyOf(req);
    if (body.EventSourceArn !== undefined)
      throw invalid('EventSourceArn', 'cannot be changed; create a new mapping');
    const ref =
      body.FunctionName === undefined
        ? { namespace: current.namespace, name: current.spec.functionName, qualifier: current.spec.qualifier }
        : functionOf(body.FunctionName);
    if (ref.namespace !== current.namespace)
      throw invalid('FunctionName', "must be in the mapping's namespace");
    const spec = specFromRequest(body, ref, current.spec);
    const updated = await catalog.update(current.uuid, spec);
    const state =
      spec.enabled === current.spec.enabled ? 'Updating' : spec.enabled ? 'Enabling' : 'Disabling';
    res.status(202).json(view(updated, state));
  });

  router.delete(`${BASE}:uuid`, async (req, res) => {
    const current = mappingOf(req);
    const shown = view(current, 'Deleting');
    await catalog.delete(current.uuid);
    res.status(202).json(shown);
  });

  return router;
}
