// POST /2014-11-13/functions/{FunctionName}/invoke-async/: Lambda's InvokeAsync operation, kept because a
// webhook or a bucket notification can POST any JSON to it without setting headers. Answers 202
// `{"Status":202}` once the event is persisted.
import type { Request, RequestHandler, Response } from 'express';
import { acceptEvent } from '../../async/accept.ts';
import { tenantIdFor } from '../../invocation/tenant-id.ts';
import { authorizedTarget, type InvokeDeps, payload } from './invoke.ts';

export function invokeAsyncHandler(deps: InvokeDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const target = await authorizedTarget(deps, req, undefined);
    // InvokeAsync has no tenant header: a function in tenant isolation mode is refused here.
    tenantIdFor(target.fn, undefined);
    const trace = deps.carriedTraceHeader(req.get('X-Amzn-Trace-Id'));
    const requestId = await acceptEvent(deps.queue, target, payload(req), trace);
    res.status(202).set('X-Amzn-RequestId', requestId).json({ Status: 202 });
  };
}
