// POST /2015-03-31/functions/{FunctionName}/invocations: the Invoke API (reference §4) — RequestResponse, Event, DryRun.
import type { Request, RequestHandler, Response } from 'express';
import { headerSafeJson } from '../../../../apis/ascii-json.ts';
import { ApiError } from '../../../../apis/errors.ts';
import { acceptEvent } from '../../async/accept.ts';
import type { EventQueue } from '../../async/event-queue.ts';
import { type Authorizer, callerOf } from '../../auth/authorizer.ts';
import type { GatewayConfig } from '../../config.ts';
import type { Invoker, InvokeTarget } from '../../invocation/invoker.ts';
import { tenantIdFor } from '../../invocation/tenant-id.ts';
import { parseFunctionRef } from '../function-ref.ts';
import { isValidHeader } from '../http-answer.ts';

const CLIENT_CONTEXT_MAX_BYTES = 3583;

export interface InvokeDeps {
  config: GatewayConfig;
  invoker: Invoker;
  queue: EventQueue;
  authorizer: Authorizer;
  /** The trace header an accepted event keeps, so its invocation joins the caller's trace. */
  carriedTraceHeader: (incoming: string | undefined) => string | undefined;
}

export function invokeHandler({
  config,
  invoker,
  queue,
  authorizer,
  carriedTraceHeader,
}: InvokeDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const target = await authorizedTarget(
      { config, invoker, authorizer },
      req,
      queryString(req, 'Qualifier'),
    );
    const invocationType = req.get('X-Amz-Invocation-Type') ?? 'RequestResponse';
    if (!['RequestResponse', 'Event', 'DryRun'].includes(invocationType)) {
      throw new ApiError('InvalidParameterValueException', `Unsupported InvocationType: ${invocationType}`);
    }
    const tenantId = tenantIdFor(target.fn, req.get('X-Amz-Tenant-Id'));
    const body = payload(req);
    if (invocationType === 'DryRun') {
      res.status(204).set('X-Amz-Executed-Version', target.version).end();
      return;
    }
    if (invocationType === 'Event') {
      const trace = carriedTraceHeader(req.get('X-Amzn-Trace-Id'));
      const requestId = await acceptEvent(queue, target, body, trace, tenantId);
      res.status(202).set('X-Amzn-RequestId', requestId).end();
      return;
    }
    const out = await invoker.invoke(target, body, {
      traceHeader: req.get('X-Amzn-Trace-Id'),
      clientContext: clientContext(req.get('X-Amz-Client-Context')),
      tenantId,
    });
    res.status(200).set({
      // The runtime's Content-Type is passed through (reference §1.3) when HTTP can carry it.
      'Content-Type':
        out.result.contentType && isValidHeader('content-type', out.result.contentType)
          ? out.result.contentType
          : 'application/json',
      'X-Amz-Executed-Version': out.executedVersion,
      'X-Amzn-RequestId': out.requestId,
    });
    if (out.result.outcome === 'error') res.set('X-Amz-Function-Error', 'Unhandled');
    if (req.get('X-Amz-Log-Type') === 'Tail') res.set('X-Amz-Log-Result', out.result.logTail);
    res.end(out.body);
  };
}

/** The function a request names, once the caller may invoke it. */
export async function authorizedTarget(
  { config, invoker, authorizer }: Pick<InvokeDeps, 'config' | 'invoker' | 'authorizer'>,
  req: Request,
  qualifier: string | undefined,
): Promise<InvokeTarget> {
  const ref = parseFunctionRef(
    String(req.params.functionName),
    qualifier,
    config.defaultNamespace,
    config.region,
  );
  // Before the lookup, so a caller without permission cannot tell which functions exist.
  await authorizer.authorizeFunction(callerOf(req), ref);
  return invoker.resolve(ref.namespace, ref.name, ref.qualifier);
}

/** The raw payload; it must be JSON, and an empty body means `{}` as the SDKs send it. */
export function payload(req: Request): Buffer {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  if (body.length === 0) return Buffer.from('{}');
  try {
    JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new ApiError(
      'InvalidRequestContentException',
      `Could not parse request body into json: ${err instanceof Error ? err.message : 'invalid JSON'}`,
    );
  }
  return body;
}

/**
 * X-Amz-Client-Context arrives base64-encoded; the runtime receives the decoded JSON (reference §1.2), in
 * its ASCII form: a header cannot carry raw CR/LF or characters above U+00FF, and escapes parse back the same.
 */
export function clientContext(encoded: string | undefined): string | undefined {
  if (!encoded) return undefined;
  if (encoded.length > CLIENT_CONTEXT_MAX_BYTES) {
    throw new ApiError(
      'InvalidParameterValueException',
      `Client context must be at most ${CLIENT_CONTEXT_MAX_BYTES} bytes`,
    );
  }
  const json = headerSafeJson(Buffer.from(encoded, 'base64').toString('utf8'));
  if (json === undefined) {
    throw new ApiError(
      'InvalidRequestContentException',
      'Client context must be a valid Base64-encoded JSON object.',
    );
  }
  return json;
}

export function queryString(req: Request, key: string): string | undefined {
  const value = req.query[key];
  return typeof value === 'string' ? value : undefined;
}
