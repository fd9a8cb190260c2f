// One mapping's status as the worker reports it: state, the last processing result (Lambda's
// LastProcessingResult vocabulary) and the Ready / SourceConnected conditions, each change passed on once
// (with a Kubernetes event where one is worth telling).
import { CredentialsError } from './credentials.ts';
import type { MappingCondition, MappingState, MappingStatus, StatusEvent } from './mapping.ts';

export class MappingStatusKeeper {
  private current: MappingStatus;
  private readonly kind: string;
  private readonly onStatus: (status: MappingStatus, event?: StatusEvent) => void;

  constructor(initial: MappingStatus, onStatus: (status: MappingStatus, event?: StatusEvent) => void) {
    this.current = initial;
    this.kind = initial.sourceKind;
    this.onStatus = onStatus;
  }

  get status(): MappingStatus {
    return this.current;
  }

  /** Carries over the status a replaced worker had (a spec change), at the new generation. */
  restore(previous: MappingStatus, generation: number): void {
    this.current = { ...previous, observedGeneration: generation };
  }

  setState(state: MappingState): void {
    if (this.current.state === state) return;
    this.current = { ...this.current, state, stateTransitionReason: 'USER_INITIATED' };
    this.onStatus(this.current);
  }

  setResult(result: string): void {
    if (this.current.lastProcessingResult === result) return;
    this.current = { ...this.current, lastProcessingResult: result };
    this.onStatus(this.current);
  }

  setCondition(
    type: MappingCondition['type'],
    status: MappingCondition['status'],
    reason: string,
    message: string,
    event?: StatusEvent,
  ): void {
    const existing = this.current.conditions.find((c) => c.type === type);
    if (existing && existing.status === status && existing.reason === reason && existing.message === message)
      return;
    const condition: MappingCondition = {
      type,
      status,
      reason,
      message,
      lastTransitionTime:
        existing && existing.status === status ? existing.lastTransitionTime : new Date().toISOString(),
    };
    this.current = {
      ...this.current,
      conditions: [...this.current.conditions.filter((c) => c.type !== type), condition],
    };
    this.onStatus(this.current, event);
  }

  /** The function can be fed again: a problem it had is cleared. */
  functionReady(): void {
    if (!this.current.lastProcessingResult.startsWith('PROBLEM: Function')) return;
    this.setResult('No records processed');
    this.setCondition('Ready', 'True', 'Polling', 'the mapping is polling its source');
  }

  /** The function is missing or may not run (`problem` is the LastProcessingResult). */
  functionProblem(problem: string): void {
    if (this.current.lastProcessingResult === problem) return;
    this.setResult(problem);
    this.setCondition('Ready', 'False', 'FunctionNotReady', problem.slice('PROBLEM: '.length), {
      type: 'Warning',
      reason: 'FunctionNotReady',
      message: problem,
    });
  }

  connected(): void {
    const wasDown = this.current.conditions.find((c) => c.type === 'SourceConnected')?.status === 'False';
    this.setCondition(
      'SourceConnected',
      'True',
      'Connected',
      `connected to the ${this.kind} source`,
      wasDown
        ? { type: 'Normal', reason: 'SourceReconnected', message: `reconnected to the ${this.kind} source` }
        : undefined,
    );
    this.setCondition('Ready', 'True', 'Polling', 'the mapping is polling its source');
    if (this.current.lastProcessingResult.startsWith('PROBLEM: Connection'))
      this.setResult('No records processed');
  }

  /** The source is unreachable; returns the message to log when the outage is new, else undefined. */
  disconnected(err: unknown): string | undefined {
    // Credentials that cannot be read (a missing Secret) or that the source refused are not an outage: the
    // status says which Secret.
    const credentials = err instanceof CredentialsError ? err : undefined;
    const reason = credentials
      ? credentials.rejected
        ? 'CredentialsRejected'
        : 'CredentialsUnavailable'
      : 'SourceUnreachable';
    const message = credentials
      ? credentials.rejected
        ? `the ${this.kind} source refused its credentials: ${credentials.message}`
        : `the ${this.kind} source's credentials could not be read: ${credentials.message}`
      : `the ${this.kind} source is unreachable: ${err instanceof Error ? err.message : String(err)}`;
    const previous = this.current.conditions.find((c) => c.type === 'SourceConnected');
    const already = previous?.status === 'False' && previous.reason === reason;
    this.setResult(
      credentials
        ? credentials.rejected
          ? 'PROBLEM: Connection error. The event source refused the credentials.'
          : 'PROBLEM: Connection error. The credentials of the event source could not be read.'
        : 'PROBLEM: Connection error. The event source could not be reached.',
    );
    this.setCondition(
      'SourceConnected',
      'False',
      reason,
      message,
      already ? undefined : { type: 'Warning', reason, message },
    );
    this.setCondition('Ready', 'False', reason, message);
    return already ? undefined : message;
  }
}
