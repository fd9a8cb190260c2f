// Reads one invocation's `/next` headers and builds the handler's context object from them (reference §1.2, §3.1).
import type { IncomingHttpHeaders } from 'node:http';
import type { FunctionEnvironment } from './config.ts';

const HEADER = {
  requestId: 'lambda-runtime-aws-request-id',
  deadlineMs: 'lambda-runtime-deadline-ms',
  functionArn: 'lambda-runtime-invoked-function-arn',
  traceId: 'lambda-runtime-trace-id',
  clientContext: 'lambda-runtime-client-context',
  cognitoIdentity: 'lambda-runtime-cognito-identity',
  tenantId: 'lambda-runtime-aws-tenant-id',
} as const;

/** The invocation facts the runtime itself needs before it builds a context. */
export interface InvokeHeaders {
  requestId: string;
  tenantId: string | undefined;
  traceId: string | undefined;
}

export class MissingRequestIdError extends Error {}

export function readInvokeHeaders(headers: IncomingHttpHeaders): InvokeHeaders {
  const requestId = single(headers, HEADER.requestId);
  if (!requestId) throw new MissingRequestIdError('invocation id is missing or invalid');
  return { requestId, tenantId: single(headers, HEADER.tenantId), traceId: single(headers, HEADER.traceId) };
}

/** X-Ray's per-invoke variable: set from the header, removed when an invocation has none. */
export function forwardTraceId(env: NodeJS.ProcessEnv, traceId: string | undefined): void {
  if (traceId) env._X_AMZN_TRACE_ID = traceId;
  else delete env._X_AMZN_TRACE_ID;
}

/** The fields Lambda adds to every context, whatever the handler style. */
export interface InvocationFields {
  functionVersion: string | undefined;
  functionName: string | undefined;
  memoryLimitInMB: string | undefined;
  logGroupName: string | undefined;
  logStreamName: string | undefined;
  clientContext: unknown;
  identity: unknown;
  invokedFunctionArn: string | undefined;
  awsRequestId: string;
  tenantId: string | undefined;
  getRemainingTimeInMillis(): number;
}

/**
 * Adds the invocation's fields to `base` (which carries the style-specific members such as `done` or
 * `callbackWaitsForEmptyEventLoop`). Throws when a JSON header cannot be parsed; the caller reports that as the
 * invocation's error, as the official client does.
 */
export function attachInvocationFields<T extends object>(
  base: T,
  headers: IncomingHttpHeaders,
  fn: FunctionEnvironment,
  now: () => number = Date.now,
): T & InvocationFields {
  const deadline = Number(single(headers, HEADER.deadlineMs));
  const fields: InvocationFields = {
    functionVersion: fn.functionVersion,
    functionName: fn.functionName,
    memoryLimitInMB: fn.memoryLimitInMB,
    logGroupName: fn.logGroupName,
    logStreamName: fn.logStreamName,
    clientContext: parseJsonHeader(single(headers, HEADER.clientContext), 'ClientContext'),
    identity: parseJsonHeader(single(headers, HEADER.cognitoIdentity), 'CognitoIdentity'),
    invokedFunctionArn: single(headers, HEADER.functionArn),
    awsRequestId: single(headers, HEADER.requestId) ?? '',
    tenantId: single(headers, HEADER.tenantId),
    // Not clamped at zero: Lambda's Node runtime can report a negative value once the deadline has passed.
    getRemainingTimeInMillis: () => deadline - now(),
  };
  return Object.assign(base, fields);
}

function parseJsonHeader(value: string | undefined, name: string): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${String(err)}`);
  }
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
