// A cluster's provisioned concurrency configurations (ADR-51): an Alias resource's
// `spec.provisionedConcurrency`, whether kubectl or the Lambda API wrote it. Reads come from the catalog's
// informer cache; the API's writes read the Alias from the API server, change that one field (and the
// annotation keeping LastModified) and replace it with the resourceVersion read, retrying a 409 on a fresh
// read as the setting operations do (ADR-45). A version has no resource of its own to hold one: the API
// refuses it, saying to use an Alias.
import { AliasSpecSchema } from '../../../apis/alias.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { AliasObject } from '../../../kube/resources.ts';
import type { ProvisionedReport } from '../providers/kubernetes/demand-provider.ts';
import type { FunctionRegistry } from '../registry/function-registry.ts';
import type { CatalogAlias } from '../registry/kubernetes-catalog.ts';
import type { KubernetesWrites } from '../registry/kubernetes-writes.ts';
import type { ProvisionedState } from './provisioned-concurrency.ts';
import type { ProvisionedConfig, ProvisionedConfigSource } from './provisioned-store.ts';

/** When the API last put an Alias's provisioned concurrency: `{"requested":2,"lastModified":<epoch ms>}`. */
export const ANNOTATION_PROVISIONED = 'serval.dev/provisioned-concurrency';

export class ClusterProvisionedStore implements ProvisionedConfigSource {
  readonly owned = false;
  private readonly writes: KubernetesWrites;
  private readonly registry: FunctionRegistry;
  /**
   * When this gateway first saw a count that the API did not write (kubectl apply): Lambda's LastModified
   * for it, by alias, since the resource keeps no time of its own for one field.
   */
  private readonly firstSeen = new Map<string, { requested: number; at: number }>();

  constructor(writes: KubernetesWrites, registry: FunctionRegistry) {
    this.writes = writes;
    this.registry = registry;
  }

  all(): ProvisionedConfig[] {
    const configs: ProvisionedConfig[] = [];
    for (const a of this.writes.catalog.allAliases()) {
      // An Alias of a function not served (gone, or refused) provisions nothing.
      if (a.spec.provisionedConcurrency === undefined || !this.registry.get(a.namespace, a.spec.functionName))
        continue;
      configs.push(this.configOf(a.namespace, a.spec.functionName, a));
    }
    const held = new Set(configs.map((c) => `${c.namespace}/${c.functionName}/${c.qualifier}`));
    for (const key of this.firstSeen.keys()) if (!held.has(key)) this.firstSeen.delete(key);
    return configs;
  }

  ofFunction(namespace: string, functionName: string): ProvisionedConfig[] {
    return this.writes.catalog
      .aliasesOf(namespace, functionName)
      .filter((a) => a.spec.provisionedConcurrency !== undefined)
      .map((a) => this.configOf(namespace, functionName, a));
  }

  get(namespace: string, functionName: string, qualifier: string): ProvisionedConfig | undefined {
    return this.ofFunction(namespace, functionName).find((c) => c.qualifier === qualifier);
  }

  checkQualifier(qualifier: string): void {
    if (!/^[0-9]+$/.test(qualifier)) return;
    throw new ApiError(
      'ResourceConflictException',
      `In a cluster provisioned concurrency is kept on an Alias resource: create an alias for version ` +
        `${qualifier} (CreateAlias, or an Alias with kubectl) and put it on the alias (docs/provisioned-concurrency.md)`,
    );
  }

  async put(config: ProvisionedConfig): Promise<void> {
    const { namespace, functionName, qualifier, requested, lastModified } = config;
    await this.writes.updateAlias(namespace, this.resourceOf(namespace, functionName, qualifier), (o) => {
      const alias = checkedAlias(o, functionName, qualifier);
      const spec = AliasSpecSchema.safeParse({ ...alias.spec, provisionedConcurrency: requested });
      // The alias moved to $LATEST since it was checked.
      if (!spec.success)
        throw new ApiError(
          'InvalidParameterValueException',
          'Provisioned Concurrency Configs cannot be applied to unpublished function versions.',
        );
      return withAnnotation(
        { ...alias, spec: { ...alias.spec, provisionedConcurrency: requested } },
        JSON.stringify({ requested, lastModified }),
      );
    });
  }

  async delete(namespace: string, functionName: string, qualifier: string): Promise<boolean> {
    if (!this.get(namespace, functionName, qualifier)) return false;
    await this.writes.updateAlias(namespace, this.resourceOf(namespace, functionName, qualifier), (o) => {
      const alias = checkedAlias(o, functionName, qualifier);
      const { provisionedConcurrency: _, ...spec } = alias.spec;
      return withAnnotation({ ...alias, spec }, undefined);
    });
    return true;
  }

  private resourceOf(namespace: string, functionName: string, qualifier: string): string {
    const alias = this.writes.catalog.aliasesOf(namespace, functionName).find((a) => a.name === qualifier);
    if (!alias)
      throw new ApiError('ResourceNotFoundException', `Alias not found: ${functionName}:${qualifier}`);
    return alias.objectName;
  }

  private configOf(namespace: string, functionName: string, a: CatalogAlias): ProvisionedConfig {
    const requested = a.spec.provisionedConcurrency ?? 0;
    const key = `${namespace}/${functionName}/${a.name}`;
    const put = putByApi(a.annotations?.[ANNOTATION_PROVISIONED]);
    let lastModified = put?.requested === requested ? put.lastModified : undefined;
    if (lastModified === undefined) {
      const seen = this.firstSeen.get(key);
      lastModified = seen?.requested === requested ? seen.at : Date.now();
      if (seen?.requested !== requested) this.firstSeen.set(key, { requested, at: lastModified });
    }
    return { namespace, functionName, qualifier: a.name, requested, lastModified, resource: a.objectName };
  }
}

/** What the controller writes on each Alias's status (ADR-51): one report per configuration. */
export function provisionedReports(states: ProvisionedState[]): ProvisionedReport[] {
  return states.flatMap(({ config, allocated, status, statusReason }) =>
    config.resource === undefined
      ? []
      : [
          {
            namespace: config.namespace,
            alias: config.resource,
            functionName: config.functionName,
            qualifier: config.qualifier,
            requested: config.requested,
            allocated,
            status,
            ...(statusReason ? { statusReason } : {}),
            lastModified: new Date(config.lastModified).toISOString(),
          },
        ],
  );
}

function checkedAlias(o: AliasObject | undefined, functionName: string, qualifier: string): AliasObject {
  if (!o || o.spec.functionName !== functionName || (o.spec.name ?? o.metadata?.name) !== qualifier)
    throw new ApiError('ResourceNotFoundException', `Alias not found: ${functionName}:${qualifier}`);
  return o;
}

function withAnnotation(o: AliasObject, value: string | undefined): AliasObject {
  const annotations = { ...o.metadata?.annotations };
  if (value === undefined) delete annotations[ANNOTATION_PROVISIONED];
  else annotations[ANNOTATION_PROVISIONED] = value;
  return { ...o, metadata: { ...o.metadata, annotations } };
}

function putByApi(raw: string | undefined): { requested: number; lastModified: number } | undefined {
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(raw) as { requested?: unknown; lastModified?: unknown };
    return typeof parsed.requested === 'number' && typeof parsed.lastModified === 'number'
      ? { requested: parsed.requested, lastModified: parsed.lastModified }
      : undefined;
  } catch {
    return undefined;
  }
}
