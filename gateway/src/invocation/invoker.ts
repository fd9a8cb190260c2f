// The one path every front door takes to run a function: resolve name and qualifier to a version, then
// invoke it synchronously. Each front door only translates its wire format to and from this.
import { randomUUID } from 'node:crypto';
import type { InvocationRequest } from '../../../apis/environment-link.ts';
import { ApiError } from '../../../apis/errors.ts';
import type { RecursiveLoop } from '../../../apis/function.ts';
import type { ConcurrencyLimits } from '../admission/concurrency-limits.ts';
import type { GatewayConfig } from '../config.ts';
import type { Dispatcher, ProvisionedClaim } from '../dispatch/dispatcher.ts';
import { traceHeader } from '../front-door/trace-header.ts';
import { InvocationObserver } from '../observability/invocation-observer.ts';
import { Tracing } from '../observability/tracing.ts';
import { type FunctionDefinition, functionArn, functionKey } from '../registry/function-definition.ts';
import type { FunctionRegistry } from '../registry/function-registry.ts';
import type { InvocationOutput } from '../runtime-link/agent-connection.ts';
import type { ResponseSink } from '../runtime-link/response-sink.ts';
import { pickVersion } from '../versions/alias-store.ts';
import type { AliasSource, VersionSource } from '../versions/sources.ts';
import { type LineageKey, RECURSION_LIMIT } from './lineage.ts';
import { tenantIdFor } from './tenant-id.ts';

export interface InvokeTarget {
  fn: FunctionDefinition;
  /** The version that runs: `$LATEST` or a number (an alias resolves to one). */
  version: string;
  /** The qualifier as the caller gave it, for the invoked ARN. */
  qualifier?: string | undefined;
}

export interface SyncInvokeOptions {
  /** Incoming X-Amzn-Trace-Id; a new trace starts when absent or malformed. */
  traceHeader?: string | undefined;
  /** Decoded client context JSON. */
  clientContext?: string | undefined;
  /** X-Amz-Tenant-Id as the caller sent it; checked against the function's tenancy here (tenant-id.ts). */
  tenantId?: string | undefined;
  /** An async event keeps the request id its caller was given at 202. */
  requestId?: string | undefined;
  /** Epoch ms an async event was accepted: the wait becomes its queue-wait span and event-age metric. */
  queuedSince?: number | undefined;
  /** Where a response the runtime streams goes as it is written; without one it is collected (6 MB). */
  sink?: ResponseSink | undefined;
}

/** Hands out idle provisioned environments (provisioned/provisioned-concurrency.ts). */
export interface ProvisionedClaims {
  claim(
    fn: FunctionDefinition,
    version: string,
    qualifier: string | undefined,
    tenantId: string | undefined,
  ): ProvisionedClaim | undefined;
}

export interface SyncInvocation extends InvocationOutput {
  requestId: string;
  executedVersion: string;
  /** The trace header the function ran with (its hop recorded): what work it sets off carries on. */
  traceHeader: string;
}

export class Invoker {
  private readonly config: GatewayConfig;
  private readonly registry: FunctionRegistry;
  private readonly dispatcher: Dispatcher;
  private readonly limits: ConcurrencyLimits;
  private readonly versions: VersionSource;
  private readonly aliases: AliasSource;
  private readonly observer: InvocationObserver;
  private readonly codeCheck: ((fn: FunctionDefinition) => Promise<void> | undefined) | undefined;
  private readonly lineage: LineageKey;
  private readonly provisioned: ProvisionedClaims | undefined;

  constructor(deps: {
    config: GatewayConfig;
    registry: FunctionRegistry;
    dispatcher: Dispatcher;
    limits: ConcurrencyLimits;
    versions: VersionSource;
    aliases: AliasSource;
    /** Metrics and spans of each invocation; none when absent. */
    observer?: InvocationObserver;
    /** Refuses code whose signature does not check out, before any environment runs it (code signing). */
    codeCheck?: (fn: FunctionDefinition) => Promise<void> | undefined;
    /** Signs and checks the hop counts of recursive-loop detection (lineage.ts). */
    lineage: LineageKey;
    /** Provisioned concurrency: a call takes an idle provisioned environment before one on demand. */
    provisioned?: ProvisionedClaims | undefined;
  }) {
    this.provisioned = deps.provisioned;
    this.lineage = deps.lineage;
    this.config = deps.config;
    this.registry = deps.registry;
    this.dispatcher = deps.dispatcher;
    this.limits = deps.limits;
    this.versions = deps.versions;
    this.aliases = deps.aliases;
    this.observer = deps.observer ?? new InvocationObserver({ tracing: Tracing.off() });
    this.codeCheck = deps.codeCheck;
  }

  /**
   * Finds what a (namespace, name, qualifier) runs: `$LATEST`, a published version, or an alias, which picks
   * its version by weight on every call. Unknown names, versions and aliases are 404s.
   */
  /** RecursiveLoop is the function's, whatever version runs: Put/GetFunctionRecursionConfig set $LATEST's. */
  private recursiveLoop(fn: FunctionDefinition): RecursiveLoop {
    return (this.registry.get(fn.namespace, fn.name) ?? fn).spec.recursiveLoop ?? 'Terminate';
  }

  resolve(namespace: string, name: string, qualifier?: string): InvokeTarget {
    const notFound = () =>
      new ApiError(
        'ResourceNotFoundException',
        `Function not found: ${functionArn(this.config.region, namespace, name, qualifier)}`,
      );
    const fn = this.registry.get(namespace, name);
    if (!fn) throw notFound();
    let version = qualifier ?? '$LATEST';
    if (!/^(\$LATEST|[0-9]+)$/.test(version)) {
      const alias = this.aliases.get(namespace, name, version);
      if (!alias) throw notFound();
      version = pickVersion(alias.spec);
    }
    if (version === '$LATEST') return { fn, version, qualifier };
    const published = this.versions.get(namespace, name, version);
    if (!published) throw notFound();
    return { fn: this.versions.definitionOf(fn, published), version, qualifier };
  }

  async invoke(
    target: InvokeTarget,
    payload: Buffer,
    options: SyncInvokeOptions = {},
  ): Promise<SyncInvocation> {
    const { fn, version, qualifier } = target;
    const verifying = this.codeCheck?.(fn);
    if (verifying) await verifying;
    const tenantId = tenantIdFor(fn, options.tenantId);
    const requestId = options.requestId ?? randomUUID();
    const hop = this.lineage.nextHop(traceHeader(options.traceHeader), functionKey(fn.namespace, fn.name));
    if (hop.hops > RECURSION_LIMIT && this.recursiveLoop(fn) === 'Terminate') {
      this.observer.recursionStopped(fn, hop.hops, requestId);
      throw new ApiError(
        'RecursiveInvocationException',
        `Recursive invocation detected: function ${fn.name} was invoked more than ${RECURSION_LIMIT} times in one chain of requests and was stopped (RecursiveLoop is Terminate).`,
      );
    }
    const invocation: InvocationRequest = {
      requestId,
      invokedFunctionArn: functionArn(this.config.region, fn.namespace, fn.name, qualifier),
      traceId: hop.traceHeader,
      clientContext: options.clientContext,
      tenantId,
      contentType: 'application/json',
    };
    const watch = this.observer.begin(
      { namespace: fn.namespace, name: fn.name, version, qualifier, memoryMB: fn.spec.memoryMB },
      { requestId, traceHeader: options.traceHeader, queuedSince: options.queuedSince },
    );
    return watch.run(async () => {
      // The unit is held from here until the environment is released, cold start included. A provisioned
      // environment's unit was set aside when it was provisioned: the claim is the lease.
      const claim = this.provisioned?.claim(fn, version, qualifier, tenantId);
      const lease = watch.admit(claim ?? this.limits.tryAcquire(fn.namespace, fn.name));
      if (typeof lease === 'string') {
        throw new ApiError('TooManyRequestsException', 'Rate Exceeded.', {
          extra: { Reason: lease },
          headers: { 'Retry-After': '1' },
        });
      }
      try {
        const output = await watch
          .dispatch(() => this.dispatcher.invoke(fn, version, invocation, payload, options.sink, claim))
          .catch((err) => {
            // No room in the cluster for an environment is a throttle too: count it as one.
            if (err instanceof ApiError && err.type === 'TooManyRequestsException')
              watch.admit(err.extra.Reason ?? 'ConcurrentInvocationLimitExceeded');
            throw err;
          });
        return { ...output, requestId, executedVersion: version, traceHeader: hop.traceHeader };
      } finally {
        lease.release();
      }
    });
  }
}
