// Lambda's concurrency model per namespace (reference §8): reserved pools per function, and an account
// limit whose unreserved remainder never drops below 100. Admission is exact: a unit is held from
// admission until the environment is released. Provisioned concurrency is set aside from the function's
// reservation, or else from the unreserved pool: calls served by a provisioned environment hold no unit
// (there are only as many of those environments as were set aside), on-demand calls share what is left.

/** Lambda keeps at least this much of the account limit unreserved. */
export const UNRESERVED_MINIMUM = 100;

export type ThrottleReason =
  | 'ReservedFunctionConcurrentInvocationLimitExceeded'
  | 'ConcurrentInvocationLimitExceeded';

export interface Lease {
  release(): void;
}

interface NamespaceState {
  reserved: Map<string, number>;
  /** Provisioned concurrency per function, all its versions and aliases together. */
  provisioned: Map<string, number>;
  /** In-flight invocations of functions with a reservation, by function. */
  reservedInUse: Map<string, number>;
  /** In-flight invocations drawing on the unreserved pool. */
  unreservedInUse: number;
}

export class ConcurrencyLimits {
  private readonly accountLimit: number;
  private readonly namespaces = new Map<string, NamespaceState>();

  constructor(accountLimit: number) {
    this.accountLimit = accountLimit;
  }

  /**
   * Checks a reservation against the namespace's other reservations; returns a message when it would leave
   * less than the unreserved minimum (Lambda's InvalidParameterValueException text).
   */
  checkReservation(namespace: string, name: string, reserved: number | undefined): string | undefined {
    if (reserved === undefined) return undefined;
    const state = this.state(namespace);
    const provisioned = state.provisioned.get(name) ?? 0;
    if (reserved < provisioned) {
      return (
        `Specified ReservedConcurrentExecutions for function is less than the function's provisioned ` +
        `concurrency [${provisioned}]; reduce the provisioned concurrency first.`
      );
    }
    const others = [...state.reserved].filter(([n]) => n !== name).reduce((a, [, r]) => a + r, 0);
    const unreservedProvisioned =
      this.unreservedProvisioned(state) - (state.reserved.has(name) ? 0 : (state.provisioned.get(name) ?? 0));
    if (this.accountLimit - others - unreservedProvisioned - reserved < UNRESERVED_MINIMUM) {
      return (
        `Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution ` +
        `below its minimum value of [${UNRESERVED_MINIMUM}].`
      );
    }
    return undefined;
  }

  setReservation(namespace: string, name: string, reserved: number | undefined): void {
    const problem = this.checkReservation(namespace, name, reserved);
    if (problem) throw new Error(problem);
    const state = this.state(namespace);
    if (reserved === undefined) state.reserved.delete(name);
    else state.reserved.set(name, reserved);
  }

  /**
   * Checks a function's provisioned concurrency (all its versions and aliases together) against its
   * reservation, or else against the unreserved pool; returns Lambda's message when it does not fit.
   */
  checkProvisioned(namespace: string, name: string, provisioned: number): string | undefined {
    const state = this.state(namespace);
    const reserved = state.reserved.get(name);
    if (reserved !== undefined) {
      return provisioned > reserved
        ? 'Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function'
        : undefined;
    }
    const others = this.unreservedProvisioned(state) - (state.provisioned.get(name) ?? 0);
    if (this.accountLimit - this.reservedTotal(state) - others - provisioned < UNRESERVED_MINIMUM) {
      return (
        `Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution ` +
        `below its minimum value of [${UNRESERVED_MINIMUM}].`
      );
    }
    return undefined;
  }

  setProvisioned(namespace: string, name: string, provisioned: number): void {
    const state = this.state(namespace);
    if (provisioned > 0) state.provisioned.set(name, provisioned);
    else state.provisioned.delete(name);
  }

  /** A lease for an on-demand environment, or why the invocation is throttled. */
  tryAcquire(namespace: string, name: string): Lease | ThrottleReason {
    const state = this.state(namespace);
    const reserved = state.reserved.get(name);
    if (reserved !== undefined) {
      const inUse = state.reservedInUse.get(name) ?? 0;
      if (inUse >= reserved - (state.provisioned.get(name) ?? 0))
        return 'ReservedFunctionConcurrentInvocationLimitExceeded';
      state.reservedInUse.set(name, inUse + 1);
      return once(() => state.reservedInUse.set(name, (state.reservedInUse.get(name) ?? 1) - 1));
    }
    if (state.unreservedInUse >= this.unreservedPool(state)) return 'ConcurrentInvocationLimitExceeded';
    state.unreservedInUse++;
    return once(() => {
      state.unreservedInUse--;
    });
  }

  /** Current use, for metrics and tests. */
  inUse(namespace: string, name: string): number {
    const state = this.state(namespace);
    return state.reserved.has(name) ? (state.reservedInUse.get(name) ?? 0) : state.unreservedInUse;
  }

  /** Limits and use per namespace, read by the metrics on every scrape. */
  snapshot(): Array<{
    namespace: string;
    accountLimit: number;
    unreservedLimit: number;
    unreservedInUse: number;
    reserved: Array<{ function: string; limit: number; inUse: number }>;
  }> {
    return [...this.namespaces].map(([namespace, state]) => ({
      namespace,
      accountLimit: this.accountLimit,
      unreservedLimit: this.unreservedPool(state),
      unreservedInUse: state.unreservedInUse,
      reserved: [...state.reserved].map(([fn, limit]) => ({
        function: fn,
        limit,
        inUse: state.reservedInUse.get(fn) ?? 0,
      })),
    }));
  }

  /** What on-demand calls of unreserved functions share: the account limit less everything set aside. */
  private unreservedPool(state: NamespaceState): number {
    return this.accountLimit - this.reservedTotal(state) - this.unreservedProvisioned(state);
  }

  private reservedTotal(state: NamespaceState): number {
    let total = 0;
    for (const r of state.reserved.values()) total += r;
    return total;
  }

  /** Provisioned concurrency of functions without a reservation, which the unreserved pool gives up. */
  private unreservedProvisioned(state: NamespaceState): number {
    let total = 0;
    for (const [fn, p] of state.provisioned) if (!state.reserved.has(fn)) total += p;
    return total;
  }

  private state(namespace: string): NamespaceState {
    let state = this.namespaces.get(namespace);
    if (!state) {
      state = { reserved: new Map(), provisioned: new Map(), reservedInUse: new Map(), unreservedInUse: 0 };
      this.namespaces.set(namespace, state);
    }
    return state;
  }
}

function once(release: () => void): Lease {
  let done = false;
  return {
    release() {
      if (done) return;
      done = true;
      release();
    },
  };
}
