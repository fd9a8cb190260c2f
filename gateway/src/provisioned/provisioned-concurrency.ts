// Provisioned concurrency (reference §8, §14.6; ADR-41, ADR-51): the configurations a caller puts on an
// alias or a published version, checked against Lambda's rules, kept in effect by a reconcile that asks the
// dispatcher for that many environments initialised ahead, and read back with Lambda's allocation status.
// The same in a cluster, where the configurations are Alias resources' and the environments pods.
import { ApiError } from '../../../apis/errors.ts';
import type { ConcurrencyLimits } from '../admission/concurrency-limits.ts';
import type { Dispatcher, ProvisionedClaim } from '../dispatch/dispatcher.ts';
import { type FunctionDefinition, functionArn } from '../registry/function-definition.ts';
import type { FunctionRegistry } from '../registry/function-registry.ts';
import type { AliasSource, VersionSource } from '../versions/sources.ts';
import type { ProvisionedConfig, ProvisionedConfigSource } from './provisioned-store.ts';

export type ProvisionedStatus = 'IN_PROGRESS' | 'READY' | 'FAILED';

export interface ProvisionedState {
  config: ProvisionedConfig;
  allocated: number;
  /** Provisioned environments running an invocation now. */
  busy: number;
  /** Calls that found every provisioned environment busy and ran on demand, since the gateway started. */
  spillovers: number;
  status: ProvisionedStatus;
  statusReason?: string | undefined;
}

/** How often configurations are brought in line with aliases that moved and environments that ended. */
const RECONCILE_EVERY_MS = 1000;
/** Lambda refuses it: a provisioned environment would be initialised before any tenant is known (§14.6). */
const TENANCY_REFUSAL =
  'provisioned concurrency is not supported for a function with tenancy mode PER_TENANT';

export interface ProvisionedDeps {
  region: string;
  store: ProvisionedConfigSource;
  registry: FunctionRegistry;
  versions: VersionSource;
  aliases: AliasSource;
  dispatcher: Dispatcher;
  limits: ConcurrencyLimits;
  log: (line: string) => void;
}

export class ProvisionedConcurrency {
  private readonly deps: ProvisionedDeps;
  private readonly timer: NodeJS.Timeout;
  /** Qualifiers the dispatcher provisions now, by `namespace/function/qualifier`. */
  private readonly active = new Map<string, { fn: FunctionDefinition; version: string; qualifier: string }>();
  private readonly spillovers = new Map<string, number>();
  /**
   * Configurations the reconcile does not serve, and why: a second one on a version, or more than the
   * reservation allows. The API refuses both; kubectl can write them on Alias resources.
   */
  private refused = new Map<string, string>();

  constructor(deps: ProvisionedDeps) {
    this.deps = deps;
    this.reconcile();
    this.timer = setInterval(() => this.reconcile(), RECONCILE_EVERY_MS);
    this.timer.unref();
  }

  /** PutProvisionedConcurrencyConfig: checks, stores and starts allocating; resolves with the new state. */
  async put(
    fn: FunctionDefinition,
    qualifier: string | undefined,
    requested: unknown,
    declaredIn?: string,
  ): Promise<ProvisionedState> {
    if (typeof requested !== 'number' || !Number.isInteger(requested) || requested < 1)
      throw invalid('ProvisionedConcurrentExecutions: must be an integer of at least 1');
    if (fn.spec.tenancy) throw invalid(TENANCY_REFUSAL);
    const q = checkedQualifier(qualifier);
    const version = this.versionOf(fn, q);
    const { store, limits } = this.deps;
    store.checkQualifier(q);
    // One configuration per version: an alias and the version it points to, or two aliases, cannot both
    // provision it.
    const clash = store
      .ofFunction(fn.namespace, fn.name)
      .find((c) => c.qualifier !== q && this.resolvedVersion(fn, c.qualifier) === version);
    if (clash) {
      throw new ApiError(
        'ResourceConflictException',
        `Provisioned concurrency is already configured for version ${version} of ${fn.name} through ` +
          `${clash.qualifier}: a version has at most one provisioned concurrency configuration`,
      );
    }
    const total =
      store
        .ofFunction(fn.namespace, fn.name)
        .filter((c) => c.qualifier !== q)
        .reduce((sum, c) => sum + c.requested, 0) + requested;
    const problem = limits.checkProvisioned(fn.namespace, fn.name, total);
    if (problem) throw invalid(problem);
    await store.put({
      namespace: fn.namespace,
      functionName: fn.name,
      qualifier: q,
      requested,
      lastModified: Date.now(),
      declaredIn,
    });
    this.reconcile();
    return this.stateOf(fn, q);
  }

  /** At start-up: a manifest that no longer declares its alias's provisioned concurrency removes it. */
  dropUndeclared(declared: ReadonlySet<string>): void {
    for (const c of [...this.deps.store.all()]) {
      if (c.declaredIn !== undefined && !declared.has(`${c.namespace}/${c.functionName}/${c.qualifier}`))
        this.deps.store.delete(c.namespace, c.functionName, c.qualifier);
    }
    this.reconcile();
  }

  /** GetProvisionedConcurrencyConfig. */
  get(fn: FunctionDefinition, qualifier: string | undefined): ProvisionedState {
    const q = checkedQualifier(qualifier);
    this.versionOf(fn, q);
    return this.stateOf(fn, q);
  }

  /** DeleteProvisionedConcurrencyConfig: the environments end (busy ones after their invocation). */
  async delete(fn: FunctionDefinition, qualifier: string | undefined): Promise<void> {
    const q = checkedQualifier(qualifier);
    this.versionOf(fn, q);
    await this.deps.store.delete(fn.namespace, fn.name, q);
    this.reconcile();
  }

  /** ListProvisionedConcurrencyConfigs, in qualifier order. */
  list(fn: FunctionDefinition): ProvisionedState[] {
    return this.deps.store
      .ofFunction(fn.namespace, fn.name)
      .sort((a, b) => (a.qualifier < b.qualifier ? -1 : 1))
      .map((c) => this.stateOf(fn, c.qualifier, c));
  }

  /** Every configuration's state, for the metrics. */
  states(): ProvisionedState[] {
    return this.deps.store.all().flatMap((c) => {
      const fn = this.deps.registry.get(c.namespace, c.functionName);
      return fn ? [this.stateOf(fn, c.qualifier, c)] : [];
    });
  }

  /**
   * An idle provisioned environment for a call naming `qualifier` that runs `version`, or none: the call
   * then runs on demand, counted as spill-over when the qualifier is provisioned for that version.
   */
  claim(
    fn: FunctionDefinition,
    version: string,
    qualifier: string | undefined,
    tenantId: string | undefined,
  ): ProvisionedClaim | undefined {
    if (qualifier === undefined) return undefined;
    const key = `${fn.namespace}/${fn.name}/${qualifier}`;
    if (this.active.get(key)?.version !== version) return undefined;
    const claim = this.deps.dispatcher.claimProvisioned(fn, version, qualifier, tenantId);
    if (!claim) this.spillovers.set(key, (this.spillovers.get(key) ?? 0) + 1);
    return claim;
  }

  /**
   * Brings the dispatcher's provisioned pools and the concurrency limits in line with the stored
   * configurations; a configuration whose function, alias or version is gone goes with it, as in Lambda.
   */
  reconcile(): void {
    const { store, registry, dispatcher, limits } = this.deps;
    const wanted = new Map<
      string,
      { fn: FunctionDefinition; version: string; qualifier: string; count: number }
    >();
    const totals = new Map<string, number>();
    /** The qualifier each provisioned version is served through. */
    const holders = new Map<string, string>();
    const refused = new Map<string, string>();
    // Those served now first, then oldest first: a configuration written (or an alias moved) later is the
    // one refused, as the API would have refused it, and one already served never loses its environments.
    const served = (c: ProvisionedConfig) => {
      const fn = registry.get(c.namespace, c.functionName);
      const was = this.active.get(`${c.namespace}/${c.functionName}/${c.qualifier}`);
      return fn && was && was.version === this.resolvedVersion(fn, c.qualifier) ? 0 : 1;
    };
    const configs = [...store.all()].sort(
      (a, b) =>
        served(a) - served(b) || a.lastModified - b.lastModified || (a.qualifier < b.qualifier ? -1 : 1),
    );
    for (const c of configs) {
      const fn = registry.get(c.namespace, c.functionName);
      const version = fn && this.resolvedVersion(fn, c.qualifier);
      const published = fn && version && this.deps.versions.get(fn.namespace, fn.name, version);
      if (!fn || !version || !published) {
        if (store.owned && (!fn || version === undefined)) {
          void store.delete(c.namespace, c.functionName, c.qualifier);
          this.deps.log(
            `provisioned concurrency of ${c.functionName}:${c.qualifier} removed: it no longer exists`,
          );
        }
        continue;
      }
      const key = `${c.namespace}/${c.functionName}`;
      const holder = holders.get(`${key}/${version}`);
      const total = (totals.get(key) ?? 0) + c.requested;
      const problem = fn.spec.tenancy
        ? TENANCY_REFUSAL
        : holder
          ? `version ${version} is already provisioned through ${holder}: a version has at most one provisioned concurrency configuration`
          : limits.checkProvisioned(c.namespace, c.functionName, total);
      if (problem) {
        refused.set(`${key}/${c.qualifier}`, problem);
        continue;
      }
      holders.set(`${key}/${version}`, c.qualifier);
      const definition = this.deps.versions.definitionOf(fn, published);
      wanted.set(`${key}/${c.qualifier}`, {
        fn: definition,
        version,
        qualifier: c.qualifier,
        count: c.requested,
      });
      totals.set(key, total);
      // At once, so the next function's check sees what this one takes from the unreserved pool.
      limits.setProvisioned(c.namespace, c.functionName, total);
    }
    this.refused = refused;
    for (const [key, was] of this.active) {
      if (wanted.has(key)) continue;
      dispatcher.provision(was.fn, was.version, was.qualifier, 0);
      this.active.delete(key);
      const [namespace = '', name = ''] = key.split('/');
      if (!totals.has(`${namespace}/${name}`)) limits.setProvisioned(namespace, name, 0);
    }
    for (const [key, w] of wanted) {
      dispatcher.provision(w.fn, w.version, w.qualifier, w.count);
      this.active.set(key, w);
    }
  }

  close(): void {
    clearInterval(this.timer);
  }

  private stateOf(
    fn: FunctionDefinition,
    qualifier: string,
    config = this.deps.store.get(fn.namespace, fn.name, qualifier),
  ): ProvisionedState {
    const spillovers = this.spillovers.get(`${fn.namespace}/${fn.name}/${qualifier}`) ?? 0;
    if (!config) {
      throw new ApiError(
        'ProvisionedConcurrencyConfigNotFoundException',
        'No Provisioned Concurrency Config found for this function',
      );
    }
    const version = this.resolvedVersion(fn, qualifier);
    const refusal = this.refused.get(`${fn.namespace}/${fn.name}/${qualifier}`);
    if (refusal) {
      return { config, allocated: 0, busy: 0, spillovers, status: 'FAILED', statusReason: refusal };
    }
    if (version === '$LATEST') {
      return {
        config,
        allocated: 0,
        busy: 0,
        spillovers,
        status: 'FAILED',
        statusReason: `The alias ${qualifier} points to $LATEST, which cannot have provisioned concurrency`,
      };
    }
    const allocation = this.deps.dispatcher.provisionedAllocation(fn.namespace, fn.name, qualifier);
    const allocated = Math.min(allocation?.allocated ?? 0, config.requested);
    const busy = allocation?.busy ?? 0;
    const status = allocation?.failure ? 'FAILED' : allocated >= config.requested ? 'READY' : 'IN_PROGRESS';
    return { config, allocated, busy, spillovers, status, statusReason: allocation?.failure };
  }

  /** The version a qualifier provisions: an alias's primary version, or the version itself. */
  private resolvedVersion(fn: FunctionDefinition, qualifier: string): string | undefined {
    if (/^[0-9]+$/.test(qualifier))
      return this.deps.versions.get(fn.namespace, fn.name, qualifier) ? qualifier : undefined;
    return this.deps.aliases.get(fn.namespace, fn.name, qualifier)?.spec.functionVersion;
  }

  /** The published version behind an existing qualifier; a missing one is a 404, `$LATEST` refused. */
  private versionOf(fn: FunctionDefinition, qualifier: string): string {
    const version = this.resolvedVersion(fn, qualifier);
    if (version === undefined) {
      throw new ApiError(
        'ResourceNotFoundException',
        `Function not found: ${functionArn(this.deps.region, fn.namespace, fn.name, qualifier)}`,
      );
    }
    if (version === '$LATEST') throw unpublished();
    return version;
  }
}

function checkedQualifier(qualifier: string | undefined): string {
  if (qualifier === undefined || qualifier === '')
    throw invalid('Qualifier: the version number or alias name is required');
  if (qualifier === '$LATEST') throw unpublished();
  return qualifier;
}

function unpublished(): ApiError {
  return invalid('Provisioned Concurrency Configs cannot be applied to unpublished function versions.');
}

function invalid(message: string): ApiError {
  return new ApiError('InvalidParameterValueException', message);
}
