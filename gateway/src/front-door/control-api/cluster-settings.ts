// The setting operations' store in a cluster (ADR-45): the Function resource. A change reads the Function
// from the API server, applies to it the change local mode applies to its record, checks the whole spec
// with the one schema and writes it back with the resourceVersion it read; a 409 from someone writing in
// between is retried on a fresh read (KubernetesWrites.updateFunction), so no write is lost and a stale
// RevisionId is still PreconditionFailedException. Tags and the URL's and event-invoke config's times have
// no place in the spec: they go to the `serval.dev/lambda-api` annotation, alone, so a Function kubectl
// applied keeps its other fields derived (Role from its ServiceAccount, CodeSha256 from the controller).
import { isDeepStrictEqual } from 'node:util';
import { ApiError } from '../../../../apis/errors.ts';
import { type FunctionSpec, FunctionSpecSchema } from '../../../../apis/function.ts';
import type { FunctionObject } from '../../../../kube/resources.ts';
import type { ApiFunctionRecord } from '../../registry/api-functions.ts';
import { functionArn } from '../../registry/function-definition.ts';
import {
  ANNOTATION_LAMBDA,
  type KubernetesWrites,
  lambdaAnnotation,
} from '../../registry/kubernetes-writes.ts';
import { clusterRecord } from './cluster-code.ts';
import { checkRevision, type FunctionChanges } from './function-changes.ts';
import { checkedSpec } from './function-configuration.ts';
import type { SettingStore } from './setting-store.ts';

export function clusterSettings(changes: FunctionChanges, writes: KubernetesWrites): SettingStore {
  const { config, registry, limits } = changes.deps;
  return {
    record(fn) {
      const o = writes.catalog.functionObject(fn.namespace, fn.name);
      return o ? clusterRecord(o, fn) : undefined;
    },
    async commit(fn, expectedRevision, change) {
      const { namespace, name } = fn;
      await writes.updateFunction(namespace, name, (o) => {
        if (!o)
          throw new ApiError(
            'ResourceNotFoundException',
            `Function not found: ${functionArn(config.region, namespace, name)}`,
          );
        const parsed = FunctionSpecSchema.safeParse(o.spec);
        if (!parsed.success)
          throw new ApiError(
            'ResourceConflictException',
            `Function ${name} has a spec the gateway does not serve (see its status); fix it with kubectl first`,
          );
        const current = clusterRecord(o, { ...fn, spec: parsed.data });
        checkRevision(current, expectedRevision);
        const next = change(structuredClone(current));
        const spec = checkedSpec(next.spec);
        const problem = limits.checkReservation(namespace, name, spec.reservedConcurrency);
        if (problem) throw new ApiError('InvalidParameterValueException', problem);
        return withSettings({ ...o, spec: changedFields(o.spec, parsed.data, spec) }, next);
      });
      const served = registry.get(namespace, name);
      if (!served)
        throw new ApiError(
          'ServiceException',
          `Function ${name} is not valid after the change: see its status`,
        );
      return served;
    },
  };
}

/**
 * The spec as written, with only the fields the change changed replaced: the others stay exactly as kubectl
 * (or the API server's defaulting) wrote them, so a setting never rewrites the rest of the spec.
 */
function changedFields(raw: FunctionSpec, before: FunctionSpec, after: FunctionSpec): FunctionSpec {
  const out: Record<string, unknown> = { ...raw };
  const [b, a] = [before as Record<string, unknown>, after as Record<string, unknown>];
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (isDeepStrictEqual(b[key], a[key])) continue;
    if (a[key] === undefined) delete out[key];
    else out[key] = a[key];
  }
  return out as FunctionSpec;
}

/** The Function with the record's tags and times in its annotation (none added where there are none). */
function withSettings(o: FunctionObject, record: ApiFunctionRecord): FunctionObject {
  const found = lambdaAnnotation(o);
  const { tags, urlCreatedAt, urlModifiedAt, eventInvokeModifiedAt } = record;
  if (!found && Object.keys(tags).length === 0 && !urlCreatedAt && !eventInvokeModifiedAt) return o;
  const lambda = { ...found, tags, urlCreatedAt, urlModifiedAt, eventInvokeModifiedAt };
  return {
    ...o,
    metadata: {
      ...o.metadata,
      annotations: { ...o.metadata?.annotations, [ANNOTATION_LAMBDA]: JSON.stringify(lambda) },
    },
  };
}
