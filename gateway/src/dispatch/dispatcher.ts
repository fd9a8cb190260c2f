// Routes an invocation to the environment pool of its function version and turns environment loss into
// Lambda's error result. Provisioned concurrency (ADR-41) adds a pool per provisioned alias or version,
// kept initialised; a call claims one of its idle environments before it is admitted on demand.
import {
  type EnvironmentSpec,
  IMAGE_RUNTIME,
  type InvocationRequest,
} from '../../../apis/environment-link.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { GatewayConfig } from '../config.ts';
import type { DispatchObserver } from '../observability/dispatch-observer.ts';
import type { EnvironmentSnapshot } from '../observability/metrics.ts';
import type { FunctionDefinition } from '../registry/function-definition.ts';
import {
  type AgentConnection,
  EnvironmentLostError,
  type InvocationOutput,
} from '../runtime-link/agent-connection.ts';
import { EnvironmentOverdueError } from '../runtime-link/overdue-calls.ts';
import type { ResponseSink } from '../runtime-link/response-sink.ts';
import type { StartEnvironment } from './environment-launcher.ts';
import { EnvironmentPool, EnvironmentStartError, type PoolStats } from './environment-pool.ts';
import { environmentLost, environmentOverdue } from './platform-failures.ts';

/** An idle provisioned environment held for one call; releasing an unused claim hands it back. */
export interface ProvisionedClaim {
  release(): void;
}

class Claim implements ProvisionedClaim {
  readonly pool: EnvironmentPool;
  readonly conn: AgentConnection;
  used = false;
  constructor(pool: EnvironmentPool, conn: AgentConnection) {
    this.pool = pool;
    this.conn = conn;
  }
  release(): void {
    if (this.used) return;
    this.used = true;
    this.pool.unclaim(this.conn);
  }
}

export class Dispatcher {
  private readonly pools = new Map<string, EnvironmentPool>();
  private readonly revisions = new Map<string, string>();
  /** Provisioned pools by namespace/function/qualifier, and the revision and size each was made for. */
  private readonly provisioned = new Map<
    string,
    { pool: EnvironmentPool; revision: string; count: number }
  >();
  private readonly config: GatewayConfig;
  private readonly start: StartEnvironment;
  private readonly reaper: NodeJS.Timeout;
  private readonly observer: DispatchObserver | undefined;

  constructor(config: GatewayConfig, start: StartEnvironment, observer?: DispatchObserver) {
    this.config = config;
    this.start = start;
    this.observer = observer;
    const ttlMs = config.idleTimeoutSeconds * 1000;
    this.reaper = setInterval(
      () => {
        for (const [key, pool] of this.pools) {
          pool.reap(Date.now(), ttlMs);
          // A tenant's pool goes once it has nothing left: tenants are unbounded, pools must not be.
          if (key.includes(TENANT_SEPARATOR) && isEmpty(pool.stats())) this.forget(key);
        }
      },
      Math.min(ttlMs / 2, 10_000),
    );
    this.reaper.unref();
  }

  async invoke(
    fn: FunctionDefinition,
    version: string,
    invocation: InvocationRequest,
    body: Buffer,
    sink?: ResponseSink,
    claim?: ProvisionedClaim,
  ): Promise<InvocationOutput> {
    try {
      if (claim instanceof Claim && !claim.used) {
        claim.used = true;
        return await claim.pool.invoke(invocation, body, sink, claim.conn);
      }
      return await this.poolFor(fn, version, invocation.tenantId).invoke(invocation, body, sink);
    } catch (err) {
      if (err instanceof EnvironmentOverdueError)
        return environmentOverdue(invocation.requestId, fn.spec.memoryMB, err);
      if (err instanceof EnvironmentLostError) return environmentLost(invocation.requestId);
      if (err instanceof EnvironmentStartError && err.outOfCapacity) {
        // Lambda throttles when it cannot scale out; SDKs retry a 429, not a 502.
        throw new ApiError('TooManyRequestsException', `Rate Exceeded. ${err.message}`, {
          extra: { Reason: 'ConcurrentInvocationLimitExceeded' },
          headers: { 'Retry-After': '1' },
        });
      }
      if (err instanceof EnvironmentStartError) {
        throw new ApiError(
          'ResourceNotReadyException',
          `Could not start an execution environment for ${fn.namespace}/${fn.name}: ${err.message}`,
        );
      }
      throw err;
    }
  }

  /**
   * Environments by state and waiting invocations per function version, for the metrics. A tenant's pool
   * adds to its version's counts: a tenant label would give the metrics an unbounded set of series.
   */
  environmentStats(): EnvironmentSnapshot[] {
    const byVersion = new Map<string, EnvironmentSnapshot>();
    const provisioned = [...this.provisioned.values()].map((p) => p.pool);
    for (const pool of [...this.pools.values(), ...provisioned]) {
      const { namespace, functionName, version } = pool.spec;
      const key = `${namespace}/${functionName}/${version}`;
      const stats = pool.stats();
      const sum = byVersion.get(key);
      if (!sum) {
        byVersion.set(key, { namespace, function: functionName, version, ...stats });
        continue;
      }
      sum.idle += stats.idle;
      sum.busy += stats.busy;
      sum.starting += stats.starting;
      sum.waiting += stats.waiting;
    }
    return [...byVersion.values()];
  }

  /**
   * Retires a function's warm environments at once rather than at its next call: all of them when it was
   * deleted, its `$LATEST` ones when its definition changed to `fn`. Busy ones finish their invocation first.
   */
  retire(namespace: string, name: string, changed?: FunctionDefinition): void {
    // Provisioned pools run published versions, which never change: only a deleted function ends them.
    if (!changed) {
      for (const [key, { pool }] of this.provisioned) {
        if (pool.spec.namespace !== namespace || pool.spec.functionName !== name) continue;
        pool.retire();
        this.provisioned.delete(key);
      }
    }
    for (const [key, pool] of this.pools) {
      if (pool.spec.namespace !== namespace || pool.spec.functionName !== name) continue;
      if (changed && (pool.spec.version !== '$LATEST' || this.revisions.get(key) === revisionOf(changed)))
        continue;
      pool.retire();
      this.pools.delete(key);
      this.revisions.delete(key);
    }
  }

  private forget(key: string): void {
    this.pools.get(key)?.close();
    this.pools.delete(key);
    this.revisions.delete(key);
  }

  close(): void {
    clearInterval(this.reaper);
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
    for (const { pool } of this.provisioned.values()) pool.close();
    this.provisioned.clear();
  }

  /**
   * Keeps `count` environments of `fn` as published `version` runs it initialised ahead for the calls that
   * name `qualifier` (an alias or that version); 0 ends them. A new version or size replaces or resizes
   * the pool; the same one leaves it alone, so a failed allocation is not retried on every reconcile.
   */
  provision(fn: FunctionDefinition, version: string, qualifier: string, count: number): void {
    const key = provisionedKey(fn.namespace, fn.name, qualifier);
    const revision = `${version}/${revisionOf(fn)}`;
    const current = this.provisioned.get(key);
    if (current && (current.revision !== revision || count === 0)) {
      current.pool.retire();
      this.provisioned.delete(key);
    } else if (current) {
      if (current.count !== count) current.pool.resize(count);
      current.count = count;
      return;
    }
    if (count === 0) return;
    const spec = {
      ...environmentSpec(this.config, fn, version),
      initializationType: 'provisioned-concurrency' as const,
    };
    const pool = new EnvironmentPool(spec, this.start, {
      maxEnvironments: count,
      waitTimeoutMs: this.config.environmentStartTimeoutSeconds * 1000,
      observer: this.observer,
      keepWarm: count,
    });
    this.provisioned.set(key, { pool, revision, count });
  }

  /** What a provisioned alias or version has: environments ready, busy, and why allocation failed. */
  provisionedAllocation(namespace: string, name: string, qualifier: string) {
    return this.provisioned.get(provisionedKey(namespace, name, qualifier))?.pool.allocation();
  }

  /**
   * An idle provisioned environment for a call that named `qualifier` and runs `version`, if one is free;
   * undefined sends the call on demand (spill-over). A tenant-isolated call never shares one.
   */
  claimProvisioned(
    fn: FunctionDefinition,
    version: string,
    qualifier: string | undefined,
    tenantId: string | undefined,
  ): ProvisionedClaim | undefined {
    if (qualifier === undefined || tenantId !== undefined) return undefined;
    const entry = this.provisioned.get(provisionedKey(fn.namespace, fn.name, qualifier));
    if (!entry || entry.pool.spec.version !== version) return undefined;
    const conn = entry.pool.claim();
    return conn && new Claim(entry.pool, conn);
  }

  /** A function in tenant isolation mode has a pool per tenant, so no environment serves two tenants. */
  private poolFor(fn: FunctionDefinition, version: string, tenantId: string | undefined): EnvironmentPool {
    const tenant = tenantId === undefined ? '' : `${TENANT_SEPARATOR}${tenantId}`;
    const key = `${fn.namespace}/${fn.name}/${version}${tenant}`;
    // A pool serves one revision of its version: when the code or configuration behind `$LATEST` changes,
    // the next invocation gets a fresh environment and the old ones drain.
    const revision = revisionOf(fn);
    let pool = this.pools.get(key);
    if (pool && this.revisions.get(key) !== revision) {
      pool.retire();
      pool = undefined;
    }
    this.revisions.set(key, revision);
    if (!pool) {
      pool = new EnvironmentPool(environmentSpec(this.config, fn, version), this.start, {
        maxEnvironments: this.config.maxEnvironmentsPerFunction,
        waitTimeoutMs: this.config.environmentStartTimeoutSeconds * 1000,
        observer: this.observer,
        warmWait: {
          eagerEnvironments: this.config.eagerEnvironmentsPerFunction,
          maxWaitMs: this.config.warmWaitMs,
        },
      });
      this.pools.set(key, pool);
    }
    return pool;
  }
}

function provisionedKey(namespace: string, name: string, qualifier: string): string {
  return `${namespace}/${name}/${qualifier}`;
}

/** Not in Lambda's tenant id alphabet, nor in names and versions: keys of different tenants never meet. */
const TENANT_SEPARATOR = '#';

function isEmpty(stats: PoolStats): boolean {
  return stats.idle + stats.busy + stats.starting + stats.waiting === 0;
}

function revisionOf(fn: FunctionDefinition): string {
  return `${fn.codeSha256}/${fn.revision ?? ''}`;
}

function environmentSpec(
  config: GatewayConfig,
  fn: FunctionDefinition,
  version: string,
): Omit<EnvironmentSpec, 'environmentId'> {
  const { spec } = fn;
  return {
    namespace: fn.namespace,
    functionName: fn.name,
    version,
    runtime: spec.runtime ?? IMAGE_RUNTIME,
    handler: spec.handler ?? '',
    codeDir: fn.codeDir,
    layersDir: fn.layersDir,
    memoryMB: spec.memoryMB,
    timeoutSeconds: spec.timeoutSeconds,
    region: config.region,
    logFormat: spec.logging.format,
    applicationLogLevel: spec.logging.applicationLogLevel,
    systemLogLevel: spec.logging.systemLogLevel,
    initializationType: 'on-demand',
    environment: spec.environment,
    maxConcurrency: spec.maxConcurrencyPerEnvironment,
  };
}
