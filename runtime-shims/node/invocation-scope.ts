// Which invocation the running code belongs to, when several run at once in one process (multi-concurrency):
// carried through every await and callback by AsyncLocalStorage, so logs and the trace id follow their own
// invocation rather than whichever started last.
import type { AsyncLocalStorage } from 'node:async_hooks';

export interface InvocationIds {
  requestId: string;
  tenantId: string | undefined;
  traceId: string | undefined;
}

export class InvocationScope {
  private readonly storage: AsyncLocalStorage<InvocationIds>;

  constructor() {
    // Loaded here, not imported at the top: single-concurrency runtimes never pay for it at cold start.
    const { AsyncLocalStorage } = process.getBuiltinModule('node:async_hooks');
    this.storage = new AsyncLocalStorage();
  }

  run<T>(ids: InvocationIds, fn: () => T): T {
    return this.storage.run(ids, fn);
  }

  /** The invocation of the code running now; undefined outside every invocation (init, the loop itself). */
  current(): InvocationIds | undefined {
    return this.storage.getStore();
  }
}
