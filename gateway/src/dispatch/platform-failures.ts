// What a caller gets when the environment could not answer for its invocation itself: the results Lambda's
// platform gives, built here because no agent is left to build them.
import type { InvocationOutput } from '../runtime-link/agent-connection.ts';
import type { EnvironmentOverdueError } from '../runtime-link/overdue-calls.ts';

function failure(
  requestId: string,
  errorType: string,
  errorMessage: string,
  timing: { durationMs: number; billedDurationMs: number; logTail: string },
): InvocationOutput {
  return {
    result: {
      requestId,
      outcome: 'error',
      errorType,
      contentType: 'application/json',
      maxMemoryUsedMB: 0,
      ...timing,
    },
    body: Buffer.from(JSON.stringify({ errorType, errorMessage })),
  };
}

/**
 * The environment never answered, even past its timeout and a grace (overdue-calls.ts, ADR-59): Lambda's
 * timeout, with the platform lines an environment would have written in the log tail (the handler's own are
 * lost, and Max Memory Used is unknown).
 */
export function environmentOverdue(
  requestId: string,
  memorySizeMB: number,
  err: EnvironmentOverdueError,
): InvocationOutput {
  const seconds = err.timeoutSeconds.toFixed(2);
  const durationMs = err.durationMs;
  const billedDurationMs = Math.max(1, Math.ceil(durationMs));
  const log =
    `${new Date().toISOString()} ${requestId} Task timed out after ${seconds} seconds\n` +
    `END RequestId: ${requestId}\n` +
    `REPORT RequestId: ${requestId}\tDuration: ${durationMs.toFixed(2)} ms\tBilled Duration: ${billedDurationMs} ms\tMemory Size: ${memorySizeMB} MB\tMax Memory Used: 0 MB\t\n`;
  return failure(
    requestId,
    'Sandbox.Timedout',
    `RequestId: ${requestId} Error: Task timed out after ${seconds} seconds`,
    {
      durationMs,
      billedDurationMs,
      logTail: Buffer.from(log).toString('base64'),
    },
  );
}

/** The link closed while the invocation was in flight: the environment died under it. */
export function environmentLost(requestId: string): InvocationOutput {
  return failure(
    requestId,
    'Sandbox.Failure',
    `RequestId: ${requestId} Error: the execution environment was lost during the invocation`,
    { durationMs: 0, billedDurationMs: 0, logTail: '' },
  );
}
