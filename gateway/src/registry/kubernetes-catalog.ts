// Cluster mode's view of functions, versions and aliases: Function and Alias resources, and the
// ControllerRevisions the controller publishes versions as. Kept current by informers; the invocation path
// reads the caches, never the API server.
import type { KubeConfig } from '@kubernetes/client-node';
import { AliasSpecSchema } from '../../../apis/alias.ts';
import { FunctionSpecSchema } from '../../../apis/function.ts';
import { type RunningInformer, startInformer } from '../../../kube/informer.ts';
import {
  type AliasObject,
  aliasesPath,
  type FunctionObject,
  functionsPath,
  LABEL_FUNCTION,
  type RevisionData,
} from '../../../kube/resources.ts';
import type { AliasRecord } from '../versions/alias-store.ts';
import type { AliasSource, VersionSource } from '../versions/sources.ts';
import { type PublishedVersion, versionDefinition } from '../versions/version-store.ts';
import type { FunctionDefinition } from './function-definition.ts';
import type { FunctionRegistry } from './function-registry.ts';

/** Where a function pod mounts its code: the agent's LAMBDA_TASK_ROOT. */
export const POD_CODE_DIR = '/var/task';

/** An Alias resource as served: its record, and what the control-plane API reads beside the spec. */
export type CatalogAlias = AliasRecord & {
  namespace: string;
  objectName: string;
  uid?: string | undefined;
  annotations?: Record<string, string> | undefined;
};

interface ControllerRevision {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  revision: number;
  data?: RevisionData;
}

export class KubernetesCatalog implements VersionSource {
  private readonly kc: KubeConfig;
  private readonly registry: FunctionRegistry;
  private readonly log: (line: string) => void;
  private readonly versions = new Map<string, Map<string, PublishedVersion>>();
  private readonly aliases = new Map<string, CatalogAlias>();
  /** The Function resources as last seen, for the control-plane API's view (annotations, uid, generation). */
  private readonly objects = new Map<string, FunctionObject>();
  private informers: RunningInformer<never>[] = [];

  constructor(kc: KubeConfig, registry: FunctionRegistry, log: (line: string) => void) {
    this.kc = kc;
    this.registry = registry;
    this.log = log;
  }

  /** Starts the informers and resolves once each has listed everything once. */
  async start(resyncMs?: number): Promise<void> {
    const options = { log: this.log, resyncMs };
    const functions = startInformer<FunctionObject>(
      this.kc,
      functionsPath(),
      { upsert: (o) => this.observeFunction(o), remove: (o) => this.forgetFunction(ns(o), name(o)) },
      options,
    );
    const revisions = startInformer<ControllerRevision & { metadata: object }>(
      this.kc,
      '/apis/apps/v1/controllerrevisions',
      { upsert: (o) => this.putRevision(o), remove: (o) => this.removeRevision(o) },
      { ...options, labelSelector: LABEL_FUNCTION },
    );
    const aliases = startInformer<AliasObject>(
      this.kc,
      aliasesPath(),
      {
        upsert: (o) => this.observeAlias(o),
        remove: (o) => this.forgetAlias(ns(o), o.spec.functionName, o.spec.name ?? name(o)),
      },
      options,
    );
    this.informers = [functions, revisions, aliases] as unknown as RunningInformer<never>[];
    await Promise.all(this.informers.map((i) => i.synced));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  get(namespace: string, functionName: string, version: string): PublishedVersion | undefined {
    return this.versions.get(`${namespace}/${functionName}`)?.get(version);
  }

  list(namespace: string, functionName: string): PublishedVersion[] {
    const byVersion = this.versions.get(`${namespace}/${functionName}`);
    return [...(byVersion?.values() ?? [])].sort((a, b) => Number(a.version) - Number(b.version));
  }

  /** Aliases by (namespace, function, alias name). */
  alias(namespace: string, functionName: string, name: string): AliasRecord | undefined {
    return this.aliases.get(aliasKey(namespace, functionName, name));
  }

  definitionOf(fn: FunctionDefinition, version: PublishedVersion): FunctionDefinition {
    return versionDefinition(fn, version);
  }

  /** The alias view of this catalog, for the Invoker. */
  aliasSource(): AliasSource {
    return { get: (namespace, functionName, name) => this.alias(namespace, functionName, name) };
  }

  /** The Function resource as last seen (informer or the API's own write). */
  functionObject(namespace: string, functionName: string): FunctionObject | undefined {
    return this.objects.get(`${namespace}/${functionName}`);
  }

  /** A function's aliases with their resource names, for the control-plane API. */
  /** Every Alias served, in all namespaces (provisioned concurrency's configurations, ADR-51). */
  allAliases(): IterableIterator<CatalogAlias> {
    return this.aliases.values();
  }

  aliasesOf(namespace: string, functionName: string): CatalogAlias[] {
    const prefix = `${namespace}/${functionName}/`;
    return [...this.aliases.entries()].filter(([k]) => k.startsWith(prefix)).map(([, a]) => a);
  }

  /**
   * Serves a Function resource as seen: from the informer, or at once from the control-plane API's own
   * write, so a GetFunction right after CreateFunction finds it. A Function being deleted is not served.
   */
  observeFunction(o: FunctionObject): void {
    if (o.metadata?.deletionTimestamp) {
      this.forgetFunction(ns(o), name(o));
      return;
    }
    const held = this.objects.get(`${ns(o)}/${name(o)}`);
    // The API's own write is served at once; the watch event of an earlier write may arrive after it.
    if (held && isOlder(o, held)) return;
    this.objects.set(`${ns(o)}/${name(o)}`, o);
    const parsed = FunctionSpecSchema.safeParse(o.spec);
    if (!parsed.success) {
      // The controller reports why on the Function's status; the gateway just does not serve it.
      this.registry.delete(ns(o), name(o));
      return;
    }
    this.registry.put({
      namespace: ns(o),
      name: name(o),
      spec: parsed.data,
      codeDir: POD_CODE_DIR,
      codeSha256: o.status?.codeSha256 ?? '',
      source: `kubernetes:${ns(o)}/${name(o)}`,
      revision: `${o.metadata?.generation ?? 0}/${o.status?.codeSha256 ?? ''}`,
    });
  }

  forgetFunction(namespace: string, functionName: string): void {
    this.objects.delete(`${namespace}/${functionName}`);
    this.registry.delete(namespace, functionName);
  }

  private putRevision(o: ControllerRevision): void {
    const fn = o.metadata?.labels?.[LABEL_FUNCTION];
    const data = o.data;
    if (!fn || !data?.version) return;
    const parsed = FunctionSpecSchema.safeParse(data.spec);
    if (!parsed.success) return;
    const key = `${o.metadata?.namespace}/${fn}`;
    const byVersion = this.versions.get(key) ?? new Map<string, PublishedVersion>();
    byVersion.set(data.version, {
      version: data.version,
      codeSha256: data.codeSha256,
      configHash: data.configHash,
      publishedAt: data.publishedAt,
      description: data.description,
      spec: parsed.data,
      codeDir: POD_CODE_DIR,
    });
    this.versions.set(key, byVersion);
  }

  private removeRevision(o: ControllerRevision): void {
    const fn = o.metadata?.labels?.[LABEL_FUNCTION];
    if (fn && o.data?.version) this.versions.get(`${o.metadata?.namespace}/${fn}`)?.delete(o.data.version);
  }

  forgetAlias(namespace: string, functionName: string, alias: string): void {
    this.aliases.delete(aliasKey(namespace, functionName, alias));
  }

  /** Serves an Alias resource as seen (informer, or the control-plane API's own write). */
  observeAlias(o: AliasObject): void {
    const parsed = AliasSpecSchema.safeParse(o.spec);
    if (!parsed.success) return;
    const aliasName = parsed.data.name ?? name(o);
    const key = aliasKey(ns(o), parsed.data.functionName, aliasName);
    const held = this.aliases.get(key);
    // As for Functions: the API's own write is served at once, and an earlier state's event may follow it.
    if (held && isOlder(o, held)) return;
    this.aliases.set(key, {
      namespace: ns(o),
      objectName: name(o),
      name: aliasName,
      spec: parsed.data,
      revisionId: o.metadata?.resourceVersion ?? '',
      uid: o.metadata?.uid,
      annotations: o.metadata?.annotations,
    });
  }
}

/**
 * Whether `incoming` is an earlier state of the object `held` is. resourceVersions are etcd revisions,
 * which only grow; one that is not a number (another storage) is never judged older.
 */
function isOlder(
  incoming: { metadata?: { uid?: string; resourceVersion?: string } },
  held: FunctionObject | CatalogAlias,
): boolean {
  const heldMeta = 'revisionId' in held ? { uid: held.uid, resourceVersion: held.revisionId } : held.metadata;
  const [a, b] = [incoming.metadata?.resourceVersion ?? '', heldMeta?.resourceVersion ?? ''];
  if (incoming.metadata?.uid !== heldMeta?.uid || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

function ns(o: { metadata?: { namespace?: string } }): string {
  return o.metadata?.namespace ?? 'default';
}

function name(o: { metadata?: { name?: string } }): string {
  return o.metadata?.name ?? '';
}

function aliasKey(namespace: string, functionName: string, alias: string): string {
  return `${namespace}/${functionName}/${alias}`;
}
