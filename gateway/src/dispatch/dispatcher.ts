// Routes an invocation to the environment pool of its function version and turns environment loss into
// Lambda's error result.
import type { EnvironmentSpec, InvocationRequest } from '../../../apis/environment-link.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { GatewayConfig } from '../config.ts';
import type { DispatchObserver } from '../observability/dispatch-observer.ts';
import type { EnvironmentSnapshot } from '../observability/metrics.ts';
import type { FunctionDefinition } from '../registry/function-definition.ts';
import { EnvironmentLostError, type InvocationOutput } from '../runtime-link/agent-connection.ts';
import type { StartEnvironment } from './environment-launcher.ts';
import { EnvironmentPool, EnvironmentStartError } from './environment-pool.ts';

export class Dispatcher {
  private readonly pools = new Map<string, EnvironmentPool>();
  private readonly revisions = new Map<string, string>();
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
        for (const pool of this.pools.values()) pool.reap(Date.now(), ttlMs);
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
  ): Promise<InvocationOutput> {
    const pool = this.poolFor(fn, version);
    try {
      return await pool.invoke(invocation, body);
    } catch (err) {
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

  /** Environments by state and waiting invocations per function version, for the metrics. */
  environmentStats(): EnvironmentSnapshot[] {
    return [...this.pools.values()].map((pool) => ({
      namespace: pool.spec.namespace,
      function: pool.spec.functionName,
      version: pool.spec.version,
      ...pool.stats(),
    }));
  }

  /**
   * Retires a function's warm environments at once rather than at its next call: all of them when it was
   * deleted, its `$LATEST` ones when its definition changed to `fn`. Busy ones finish their invocation first.
   */
  retire(namespace: string, name: string, changed?: FunctionDefinition): void {
    for (const [key, pool] of this.pools) {
      if (pool.spec.namespace !== namespace || pool.spec.functionName !== name) continue;
      if (changed && (pool.spec.version !== '$LATEST' || this.revisions.get(key) === revisionOf(changed)))
        continue;
      pool.retire();
      this.pools.delete(key);
      this.revisions.delete(key);
    }
  }

  close(): void {
    clearInterval(this.reaper);
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private poolFor(fn: FunctionDefinition, version: string): EnvironmentPool {
    const key = `${fn.namespace}/${fn.name}/${version}`;
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
      });
      this.pools.set(key, pool);
    }
    return pool;
  }
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
    runtime: spec.runtime,
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
  };
}

function environmentLost(requestId: string): InvocationOutput {
  const errorType = 'Sandbox.Failure';
  const errorMessage = `RequestId: ${requestId} Error: the execution environment was lost during the invocation`;
  return {
    result: {
      requestId,
      outcome: 'error',
      errorType,
      contentType: 'application/json',
      durationMs: 0,
      billedDurationMs: 0,
      maxMemoryUsedMB: 0,
      logTail: '',
    },
    body: Buffer.from(JSON.stringify({ errorType, errorMessage })),
  };
}
