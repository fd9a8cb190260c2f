// The invoke loop: take the next invocation from the Runtime API, hand it to the buffered or streaming runner,
// and come back for the next one once that runner says the invocation is over.
import type { BeforeExitHook } from './before-exit.ts';
import { runBufferedInvocation } from './buffered-invocation.ts';
import type { FunctionEnvironment } from './config.ts';
import type { LoadedHandler } from './handler-loader.ts';
import { forwardTraceId, readInvokeHeaders } from './invoke-context.ts';
import type { RuntimeLog } from './log-patch.ts';
import type { FaultReporter } from './process-faults.ts';
import type { Invocation, RuntimeClient } from './runtime-api-client.ts';
import { runStreamingInvocation } from './streaming-invocation.ts';

export interface InvokeLoopDeps {
  client: RuntimeClient;
  handler: LoadedHandler;
  log: RuntimeLog;
  exitHook: BeforeExitHook;
  faults: FaultReporter;
  fn: FunctionEnvironment;
  /** Where `_X_AMZN_TRACE_ID` is set per invocation (process.env in production). */
  env: NodeJS.ProcessEnv;
}

/** One invocation handed to a runner; `next` fetches the following one and must be called exactly once. */
export interface InvocationRun {
  deps: InvokeLoopDeps;
  invocation: Invocation;
  requestId: string;
  next: () => void;
  /** A Runtime API call failed: nothing sensible is left to do but report and exit. */
  broken: (error: unknown) => void;
}

export class InvokeLoop {
  private readonly deps: InvokeLoopDeps;

  constructor(deps: InvokeLoopDeps) {
    this.deps = deps;
  }

  start(): void {
    this.scheduleNext();
  }

  // setImmediate, not a direct call: the previous invocation's stack and microtasks finish first.
  private readonly scheduleNext = (): void => {
    setImmediate(() => {
      this.runOnce().catch(this.broken);
    });
  };

  private readonly broken = (error: unknown): void => {
    this.deps.faults.loopFailed(error);
  };

  private async runOnce(): Promise<void> {
    const { deps } = this;
    const invocation = await deps.client.next();
    const { requestId, tenantId, traceId } = readInvokeHeaders(invocation.headers);
    deps.log.requestId = requestId;
    deps.log.tenantId = tenantId;
    deps.faults.invoking(requestId);
    forwardTraceId(deps.env, traceId);
    const run: InvocationRun = { deps, invocation, requestId, next: this.scheduleNext, broken: this.broken };
    if (deps.handler.streaming) await runStreamingInvocation(run);
    else runBufferedInvocation(run);
  }
}
