// The headers of a /next answer (reference §1.2), built once for both ways a runtime receives an invocation:
// the Runtime API (server.ts) and the in-process Node runtime (runtime-shims/node/in-process), which must
// see exactly what the API would have sent.
import { headerSafeJson } from '../../../apis/ascii-json.ts';
import type { InvocationRequest } from '../../../apis/environment-link.ts';

/** What an HTTP header value may carry as is. */
export const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** Names as Lambda writes them; `lower` gives them as node:http hands received headers to a runtime. */
export function nextHeaders(
  request: InvocationRequest,
  bodyLength: number,
  deadlineMs: number,
  lower = false,
): Record<string, string> {
  const headers: Record<string, string> = {};
  const set = (name: string, value: string) => {
    headers[lower ? name.toLowerCase() : name] = value;
  };
  set(
    'Content-Type',
    request.contentType && HEADER_VALUE.test(request.contentType) ? request.contentType : 'application/json',
  );
  set('Content-Length', String(bodyLength));
  set('Lambda-Runtime-Aws-Request-Id', request.requestId);
  set('Lambda-Runtime-Deadline-Ms', String(deadlineMs));
  set('Lambda-Runtime-Invoked-Function-Arn', request.invokedFunctionArn);
  // Lambda omits headers whose value is empty; a value a header cannot carry is dropped, JSON ones are
  // carried in their ASCII form (the gateway already sends them so).
  const optional = (name: string, value: string | undefined, json = false) => {
    const safe = value && (json ? headerSafeJson(value) : HEADER_VALUE.test(value) ? value : undefined);
    if (safe) set(name, safe);
  };
  optional('Lambda-Runtime-Trace-Id', request.traceId);
  optional('Lambda-Runtime-Client-Context', request.clientContext, true);
  optional('Lambda-Runtime-Cognito-Identity', request.cognitoIdentity, true);
  optional('Lambda-Runtime-Aws-Tenant-Id', request.tenantId);
  return headers;
}
