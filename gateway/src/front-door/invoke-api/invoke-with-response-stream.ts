// POST /2021-11-15/functions/{FunctionName}/response-streaming-invocations: InvokeWithResponseStream
// (reference §14.5) — RequestResponse or DryRun; the response goes out as event-stream events as it is written.
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { EventStreamAnswer } from './event-stream-answer.ts';
import { authorizedTarget, clientContext, type InvokeDeps, payload, queryString } from './invoke.ts';

export function invokeWithResponseStreamHandler(deps: InvokeDeps): RequestHandler {
  return async (req: Request, res: Response) => {
    const target = await authorizedTarget(deps, req, queryString(req, 'Qualifier'));
    const invocationType = req.get('X-Amz-Invocation-Type') ?? 'RequestResponse';
    if (!['RequestResponse', 'DryRun'].includes(invocationType)) {
      throw new ApiError('InvalidParameterValueException', `Unsupported InvocationType: ${invocationType}`);
    }
    const body = payload(req);
    if (invocationType === 'DryRun') {
      res.status(204).set('X-Amz-Executed-Version', target.version).end();
      return;
    }
    const requestId = randomUUID();
    const answer = new EventStreamAnswer(res, { requestId, executedVersion: target.version });
    const out = await deps.invoker.invoke(target, body, {
      traceHeader: req.get('X-Amzn-Trace-Id'),
      clientContext: clientContext(req.get('X-Amz-Client-Context')),
      tenantId: req.get('X-Amz-Tenant-Id'),
      requestId,
      sink: answer,
    });
    answer.complete(out, req.get('X-Amz-Log-Type') === 'Tail');
  };
}
