// The Runtime API state machine for one runtime process: which calls are legal when, and what they carry.
import type { InvocationRequest } from '../../../apis/environment-link.ts';

export type RuntimeStateName =
  | 'Started'
  | 'Ready'
  | 'Running'
  | 'InvocationResponse'
  | 'InvocationErrorResponse'
  | 'ResponseSent'
  | 'InitError';

export interface DeliveredInvocation {
  request: InvocationRequest;
  body: Buffer;
  deadlineMs: number;
}

export class StateTransitionError extends Error {
  readonly from: RuntimeStateName;
  readonly to: RuntimeStateName;
  constructor(from: RuntimeStateName, to: RuntimeStateName) {
    super(
      `State transition from ${from} to ${to} failed for runtime. Error: State transition is not allowed`,
    );
    this.from = from;
    this.to = to;
  }
}

const ALLOWED: Record<RuntimeStateName, readonly RuntimeStateName[]> = {
  Started: ['Ready', 'InitError'],
  Ready: ['Running'],
  Running: ['InvocationResponse', 'InvocationErrorResponse'],
  InvocationResponse: ['ResponseSent'],
  InvocationErrorResponse: ['ResponseSent'],
  ResponseSent: ['Ready'],
  InitError: [],
};

/** Tracks one runtime process from spawn to exit. A new process gets a new machine. */
export class RuntimeStateMachine {
  state: RuntimeStateName = 'Started';
  current: DeliveredInvocation | undefined;

  transition(to: RuntimeStateName): void {
    if (!ALLOWED[this.state].includes(to)) throw new StateTransitionError(this.state, to);
    this.state = to;
  }

  /** Checked before any state change: a result must carry the active request id. */
  isActive(requestId: string): boolean {
    return this.current !== undefined && this.current.request.requestId === requestId;
  }
}
