// The Invoke API's route table.
import express, { type Router } from 'express';
import { apiRouter } from '../api-router.ts';
import { type InvokeDeps, invokeHandler } from './invoke.ts';
import { invokeAsyncHandler } from './invoke-async.ts';
import { invokeWithResponseStreamHandler } from './invoke-with-response-stream.ts';

/** Lambda's synchronous request limit: 6 MB. */
export const SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;

export function invokeApiRoutes(deps: InvokeDeps): Router {
  const router = apiRouter();
  const raw = express.raw({ type: () => true, limit: SYNC_PAYLOAD_LIMIT });
  router.post('/2015-03-31/functions/:functionName/invocations', raw, invokeHandler(deps));
  router.post(
    '/2021-11-15/functions/:functionName/response-streaming-invocations',
    raw,
    invokeWithResponseStreamHandler(deps),
  );
  // Larger than the 1 MB async limit, so the limit is answered in Lambda's words, not the parser's.
  router.post('/2014-11-13/functions/:functionName/invoke-async{/}', raw, invokeAsyncHandler(deps));
  return router;
}
