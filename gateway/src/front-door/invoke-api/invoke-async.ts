// POST /2014-11-13/functions/{FunctionName}/invoke-async/: Lambda's InvokeAsync operation, kept because a
// webhook or a bucket notification can POST any JSON to it without setting headers. Answers 202
// `{"Status":202}` once the event is persisted.
import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { acceptEvent } from '../../async/accept.ts';
import { callerOf } from '../../auth/authorizer.ts';
import { parseFunctionRef } from '../function-ref.ts';
import type { InvokeDeps } from './invoke.ts';

export function invokeAsyncHandler({
  config,
  invoker,
  queue,
  authorizer,
  carriedTraceHeader,
}: InvokeDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const ref = parseFunctionRef(String(req.params.functionName), undefined, config.defaultNamespace);
    await authorizer.authorizeFunction(callerOf(req), ref);
    const target = invoker.resolve(ref.namespace, ref.name, ref.qualifier);
    const body = Buffer.isBuffer(req.body) && req.body.length > 0 ? req.body : Buffer.from('{}');
    try {
      JSON.parse(body.toString('utf8'));
    } catch {
      throw new ApiError('InvalidRequestContentException', 'Could not parse request body into json');
    }
    const trace = carriedTraceHeader(req.get('X-Amzn-Trace-Id'));
    const requestId = await acceptEvent(queue, target, body, trace);
    res.status(202).set('X-Amzn-RequestId', requestId).json({ Status: 202 });
  };
}
