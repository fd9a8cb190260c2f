// The Runtime API's state when the runtime polls /next from several workers at once (multi-concurrency,
// AWS_LAMBDA_MAX_CONCURRENCY): every waiting poller gets an invocation of its own, each result must name one
// of the invocations handed out, and init ends with the first poll, as it does with one worker.
import type { ServerResponse } from 'node:http';
import type { InvocationRequest } from '../../../apis/environment-link.ts';
import { type RuntimeStateName, StateTransitionError } from './state.ts';

type Phase = 'Started' | 'Ready' | 'InitError';
type Stage = 'Running' | 'Answering';

/** Why a call is refused: the server answers 403 for a state error and 400 for an id it never handed out. */
export type Refusal = StateTransitionError | 'invalid-request-id';

export type HandOut = (poller: ServerResponse, request: InvocationRequest, body: Buffer) => void;

export class ConcurrentInvocations {
  private phase: Phase = 'Started';
  /** Workers waiting on /next, oldest first. */
  private readonly pollers: ServerResponse[] = [];
  /** Invocations the gateway sent that no worker has taken yet. */
  private readonly queued: Array<{ request: InvocationRequest; body: Buffer }> = [];
  /** Invocations handed to a worker and not yet answered, by request id. */
  private readonly active = new Map<string, Stage>();
  private readonly handOut: HandOut;

  constructor(handOut: HandOut) {
    this.handOut = handOut;
  }

  /** A new runtime process: its workers start from `Started` and whatever the old one held is dropped. */
  reset(): void {
    this.phase = 'Started';
    this.pollers.length = 0;
    this.queued.length = 0;
    this.active.clear();
  }

  /** A worker polls /next; resolves whether it is the runtime's first poll (its init is over). */
  poll(poller: ServerResponse): { first: boolean } | StateTransitionError {
    if (this.phase === 'InitError') return new StateTransitionError('InitError', 'Ready');
    const first = this.phase === 'Started';
    this.phase = 'Ready';
    this.pollers.push(poller);
    poller.on('close', () => {
      const i = this.pollers.indexOf(poller);
      if (i >= 0) this.pollers.splice(i, 1);
    });
    this.match();
    return { first };
  }

  enqueue(request: InvocationRequest, body: Buffer): void {
    this.queued.push({ request, body });
    this.match();
  }

  /** A worker starts answering `requestId` (its /response or /error). */
  answer(requestId: string, to: RuntimeStateName): Refusal | undefined {
    const stage = this.active.get(requestId);
    if (stage === undefined) return 'invalid-request-id';
    if (stage !== 'Running') return new StateTransitionError('ResponseSent', to);
    this.active.set(requestId, 'Answering');
    return undefined;
  }

  /** The answer to `requestId` is in: the id is spent. */
  complete(requestId: string): void {
    this.active.delete(requestId);
  }

  /** /init/error is the runtime's only while no worker has finished init; later ones are refused (403). */
  initError(): StateTransitionError | undefined {
    if (this.phase !== 'Started') return new StateTransitionError(this.phase, 'InitError');
    this.phase = 'InitError';
    return undefined;
  }

  private match(): void {
    while (this.phase === 'Ready' && this.pollers.length > 0 && this.queued.length > 0) {
      const poller = this.pollers.shift()!;
      const { request, body } = this.queued.shift()!;
      this.active.set(request.requestId, 'Running');
      this.handOut(poller, request, body);
    }
  }
}
