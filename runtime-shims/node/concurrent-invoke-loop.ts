// The invoke loop of a multi-concurrency environment (AWS_LAMBDA_MAX_CONCURRENCY=N): N pollers each take the
// next invocation from the Runtime API and run it, so up to N handlers are under way in this one process.
// Each runs in an invocation scope of its own, which its log records and trace id follow (ADR-42).
import { BeforeExitHook } from './before-exit.ts';
import { runBufferedInvocation } from './buffered-invocation.ts';
import type { InvocationScope } from './invocation-scope.ts';
import { readInvokeHeaders } from './invoke-context.ts';
import type { InvocationRun, InvokeLoopDeps } from './invoke-loop.ts';
import { runStreamingInvocation } from './streaming-invocation.ts';

export class ConcurrentInvokeLoop {
  private readonly deps: InvokeLoopDeps;
  private readonly scope: InvocationScope;
  private readonly pollers: number;

  constructor(deps: InvokeLoopDeps, scope: InvocationScope, pollers: number) {
    this.deps = deps;
    this.scope = scope;
    this.pollers = pollers;
  }

  start(): void {
    this.deps.faults.servingConcurrently();
    for (let i = 0; i < this.pollers; i++) this.poll();
  }

  // Each invocation calls `next` once when it is over, which sends its poller back to /next.
  private readonly poll = (): void => {
    setImmediate(() => {
      this.runOnce().catch(this.broken);
    });
  };

  private readonly broken = (error: unknown): void => {
    this.deps.faults.loopFailed(error);
  };

  private async runOnce(): Promise<void> {
    const invocation = await this.deps.client.next();
    const { requestId, tenantId, traceId } = readInvokeHeaders(invocation.headers);
    const run: InvocationRun = {
      deps: { ...this.deps, exitHook: new SharedLoopExitHook() },
      invocation,
      requestId,
      next: this.poll,
      broken: this.broken,
    };
    await this.scope.run({ requestId, tenantId, traceId }, async () => {
      if (run.deps.handler.streaming) await runStreamingInvocation(run);
      else runBufferedInvocation(run);
    });
  }
}

/**
 * One invocation's drain hook when several share the event loop: it never drains for one of them (the
 * other pollers wait on /next), so "wait for an empty event loop" cannot hold an answer back. Once the
 * handler has answered (the runner resets the hook), whatever it would have waited for runs at once;
 * a handler that never answers ends at its timeout rather than with Runtime.NodeJsExit.
 */
class SharedLoopExitHook extends BeforeExitHook {
  private answered = false;

  override set(action: () => void): void {
    if (this.answered) action();
    else super.set(action);
  }

  override reset(): void {
    this.answered = true;
    super.reset();
  }
}
