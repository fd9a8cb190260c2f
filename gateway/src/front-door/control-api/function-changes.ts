// The one way the control-plane API changes a function (local mode): find it, refuse one that a manifest
// owns, check the caller's RevisionId against the stored one at the moment of writing, validate the whole
// new spec, then store the record and put the definition in the registry (which retires environments of
// the old revision). A refused change leaves the function as it was.
import { ApiError } from '../../../../apis/errors.ts';
import type { FunctionSpec } from '../../../../apis/function.ts';
import type { ConcurrencyLimits } from '../../admission/concurrency-limits.ts';
import type { GatewayConfig } from '../../config.ts';
import {
  type ApiFunctionRecord,
  type ApiFunctionStore,
  apiDefinition,
  isApiFunction,
} from '../../registry/api-functions.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import type { KubernetesWrites } from '../../registry/kubernetes-writes.ts';
import type { LayerStore } from '../../registry/layer-store.ts';
import { UNZIPPED_LIMIT_BYTES } from '../../registry/zip-package.ts';
import type { AliasStore } from '../../versions/alias-store.ts';
import type { AliasSource, VersionSource } from '../../versions/sources.ts';
import type { PublishedVersion, VersionStore } from '../../versions/version-store.ts';
import { parseFunctionRef } from '../function-ref.ts';
import { checkedSpec } from './function-configuration.ts';

export interface FunctionChangeDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  store: ApiFunctionStore;
  versions: VersionStore;
  aliases: AliasStore;
  limits: ConcurrencyLimits;
  layers: LayerStore;
  /** Where versions and aliases are read: the local stores, or in a cluster the API server's resources. */
  read: { versions: VersionSource; aliases: AliasSource };
  /** Cluster mode: functions are Function resources. */
  cluster: boolean;
  /** Cluster mode: writes Function and Alias resources (absent, the API only reads them). */
  kube?: KubernetesWrites | undefined;
  /** The id of a deployment moving the alias's traffic now, if any: UpdateAlias would fight it. */
  deploymentOf?: ((namespace: string, functionName: string, alias: string) => string | undefined) | undefined;
}

export interface FoundFunction {
  fn: FunctionDefinition;
  /** The qualifier named, if any ($LATEST, a version or an alias). */
  qualifier: string | undefined;
  /** The published version the qualifier names (an alias resolves to its primary version). */
  version: PublishedVersion | undefined;
}

export class FunctionChanges {
  readonly deps: FunctionChangeDeps;

  constructor(deps: FunctionChangeDeps) {
    this.deps = deps;
  }

  /** The function a FunctionName (name, name:qualifier or ARN) and optional Qualifier parameter name. */
  find(rawName: string, qualifierParam?: string): FoundFunction {
    const { config, registry } = this.deps;
    const { versions, aliases } = this.deps.read;
    const ref = parseFunctionRef(rawName, qualifierParam, config.defaultNamespace, config.region);
    const fn = registry.get(ref.namespace, ref.name);
    const notFound = () =>
      new ApiError(
        'ResourceNotFoundException',
        `Function not found: ${functionArn(config.region, ref.namespace, ref.name, ref.qualifier)}`,
      );
    if (!fn) throw notFound();
    if (ref.qualifier === undefined || ref.qualifier === '$LATEST')
      return { fn, qualifier: ref.qualifier, version: undefined };
    const alias = aliases.get(fn.namespace, fn.name, ref.qualifier);
    const version = versions.get(fn.namespace, fn.name, alias?.spec.functionVersion ?? ref.qualifier);
    if (!version && alias?.spec.functionVersion !== '$LATEST') throw notFound();
    return { fn, qualifier: ref.qualifier, version };
  }

  /** The stored record of an API-created function; a manifest's function is refused, naming its file. */
  recordOf(fn: FunctionDefinition): ApiFunctionRecord {
    const record = isApiFunction(fn) ? this.deps.store.get(fn.namespace, fn.name) : undefined;
    if (!record) {
      throw new ApiError(
        'ResourceConflictException',
        `Function ${fn.name} is defined by the manifest ${fn.source}; change that file instead of calling the API`,
      );
    }
    return record;
  }

  /**
   * Applies `change` to the current record. `expectedRevision` (the caller's RevisionId, or the revision an
   * update began from before it awaited its upload) must still be the stored one.
   */
  commit(
    fn: FunctionDefinition,
    expectedRevision: string | undefined,
    change: (record: ApiFunctionRecord) => ApiFunctionRecord,
  ): ApiFunctionRecord {
    const current = this.recordOf(fn);
    checkRevision(current, expectedRevision);
    const changed = change(structuredClone(current));
    const next = { ...changed, spec: checkedSpec(changed.spec) };
    this.checkSpec(next.namespace, next.name, next.spec, next.unzippedSize);
    const record = stamped(next);
    this.put(record);
    if (record.codeSha256 !== current.codeSha256) this.deps.store.collectPackages();
    return record;
  }

  /** A name already taken (by a manifest too) is a conflict. */
  checkNameFree(namespace: string, name: string): void {
    if (this.deps.registry.get(namespace, name)) {
      throw new ApiError(
        'ResourceConflictException',
        `Function already exist: ${functionArn(this.deps.config.region, namespace, name)}`,
      );
    }
  }

  /** Stores a new function. */
  create(record: Omit<ApiFunctionRecord, 'revisionId' | 'lastModified'>): ApiFunctionRecord {
    this.checkNameFree(record.namespace, record.name);
    this.checkSpec(record.namespace, record.name, record.spec, record.unzippedSize);
    const stored = stamped(record);
    this.put(stored);
    return stored;
  }

  /** Deletes the function with its versions and aliases, or one version (`qualifier`). */
  delete(found: FoundFunction): void {
    const { fn, qualifier } = found;
    const { store, registry, versions, aliases, config } = this.deps;
    this.recordOf(fn);
    if (qualifier !== undefined && qualifier !== '$LATEST') {
      if (!/^\d+$/.test(qualifier))
        throw new ApiError(
          'InvalidParameterValueException',
          'Qualifier: an alias cannot be deleted this way; use DeleteAlias',
        );
      const users = aliases.list(fn.namespace, fn.name).filter((a) => a.spec.functionVersion === qualifier);
      if (users.length > 0) {
        throw new ApiError(
          'ResourceConflictException',
          `Version ${qualifier} is referenced by alias ${users[0]!.name}; delete or update the alias first`,
        );
      }
      versions.delete(fn.namespace, fn.name, qualifier);
      return;
    }
    if (qualifier === '$LATEST')
      throw new ApiError(
        'InvalidParameterValueException',
        `$LATEST version cannot be deleted without deleting the function ${functionArn(config.region, fn.namespace, fn.name)}`,
      );
    store.remove(fn.namespace, fn.name);
    versions.deleteAll(fn.namespace, fn.name);
    aliases.deleteAll(fn.namespace, fn.name);
    registry.delete(fn.namespace, fn.name);
    store.collectPackages();
  }

  /** Sizes of the named layers, checked to exist; with the code, within Lambda's unzipped limit. */
  private checkSpec(namespace: string, name: string, spec: FunctionSpec, unzippedSize: number): void {
    const problem = this.deps.limits.checkReservation(namespace, name, spec.reservedConcurrency);
    if (problem) throw new ApiError('InvalidParameterValueException', problem);
    const arns = spec.layers ?? [];
    const found = arns.map((arn) => this.deps.layers.byArn(arn, this.deps.config.region));
    checkLayers(arns, found, unzippedSize);
  }

  private put(record: ApiFunctionRecord): void {
    this.deps.store.save(record);
    this.deps.registry.put(apiDefinition(record, this.deps.layers, this.deps.config.region));
  }
}

/** A new revision of a record: every change gets a fresh RevisionId and LastModified. */
function stamped(record: Omit<ApiFunctionRecord, 'revisionId' | 'lastModified'>): ApiFunctionRecord {
  return { ...record, revisionId: crypto.randomUUID(), lastModified: new Date().toISOString() };
}

/**
 * Each named layer version was found (`found[i]` for `arns[i]`), and with the code they stay within Lambda's
 * unzipped limit: the one check of a function's layers, local or in a cluster.
 */
export function checkLayers(
  arns: string[],
  found: Array<{ unzippedSize: number } | undefined>,
  unzippedSize: number,
): void {
  let unzipped = unzippedSize;
  for (const [i, arn] of arns.entries()) {
    const layer = found[i];
    if (!layer)
      throw new ApiError(
        'InvalidParameterValueException',
        `Layers[${i}]: layer version ${arn} does not exist`,
      );
    unzipped += layer.unzippedSize;
  }
  if (unzipped > UNZIPPED_LIMIT_BYTES)
    throw new ApiError(
      'InvalidParameterValueException',
      `Function code combined with layers exceeds the maximum allowed size of ${UNZIPPED_LIMIT_BYTES} bytes`,
    );
}

export function checkRevision(current: { revisionId: string }, expected: string | undefined): void {
  if (expected !== undefined && expected !== current.revisionId) {
    throw new ApiError(
      'PreconditionFailedException',
      'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
    );
  }
}
