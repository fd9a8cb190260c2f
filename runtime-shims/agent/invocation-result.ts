// How an invocation's outcome becomes its END/REPORT records and its result frame, shared by the agent's
// Environment and the in-process Node environment (ADR-52), so both say the same on the wire and in the log.
import type { EnvironmentSpec, InvocationResult } from '../../apis/environment-link.ts';
import type { LogStream, ReportStatus } from './log-stream.ts';
import type { RuntimeOutcome } from './runtime-api/server.ts';
import type { StreamRelay } from './stream-relay.ts';

/** A failure the platform reports (init, timeout, exit), as against an error the runtime posted. */
export interface Failure {
  errorType: string;
  body: Buffer;
  status: ReportStatus;
}

export function platformError(
  errorType: string,
  errorMessage: string,
  status: ReportStatus = 'error',
): Failure {
  return { errorType, body: Buffer.from(JSON.stringify({ errorType, errorMessage })), status };
}

/** Lambda's words for a function that overran its timeout; the log line is written here too. */
export function timeoutFailure(log: LogStream, requestId: string, timeoutSeconds: number): Failure {
  log.timedOut(requestId, timeoutSeconds);
  return platformError(
    'Sandbox.Timedout',
    `RequestId: ${requestId} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
    'timeout',
  );
}

export interface FinishedInvocation {
  requestId: string;
  outcome: RuntimeOutcome | Failure;
  durationMs: number;
  initDurationMs: number | undefined;
  maxMemoryUsedMB: number;
  relay: StreamRelay;
}

/** Writes END and REPORT and builds the result; the relay must be closed already. */
export function invocationResult(
  spec: EnvironmentSpec,
  log: LogStream,
  done: FinishedInvocation,
): { result: InvocationResult; body: Buffer } {
  const { requestId, outcome, durationMs, relay } = done;
  const failed = !('kind' in outcome) || outcome.kind === 'error';
  const errorType =
    'kind' in outcome ? (outcome.kind === 'error' ? outcome.errorType : undefined) : outcome.errorType;
  const status: ReportStatus = 'status' in outcome ? outcome.status : failed ? 'error' : 'success';
  // Also when a timeout or crash cut the stream short: the caller must know it streamed.
  const streamedBytes = relay.isStarted ? relay.relayedBytes : undefined;
  const metrics = {
    durationMs,
    billedDurationMs: Math.max(1, Math.ceil(durationMs)),
    memorySizeMB: spec.memoryMB,
    maxMemoryUsedMB: done.maxMemoryUsedMB,
    initDurationMs: done.initDurationMs,
  };
  const logTail = log.end(
    requestId,
    status,
    { ...metrics, producedBytes: streamedBytes ?? outcome.body.length },
    errorType,
  );
  const contentType = 'kind' in outcome ? outcome.contentType : 'application/json';
  return {
    result: {
      requestId,
      outcome: failed ? 'error' : 'success',
      errorType: failed ? (errorType ?? 'Runtime.Unknown') : undefined,
      contentType,
      ...metrics,
      logTail,
      streamedBytes,
    },
    body: outcome.body,
  };
}
