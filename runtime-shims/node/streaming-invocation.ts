// Runs one invocation of a handler wrapped in `awslambda.streamifyResponse` against a streamed /response POST.
import { NodeJsExit } from './errors.ts';
import { isThenable } from './handler-loader.ts';
import { attachInvocationFields } from './invoke-context.ts';
import type { InvocationRun } from './invoke-loop.ts';
import { ResponseStream } from './response-stream.ts';

export async function runStreamingInvocation(run: InvocationRun): Promise<void> {
  const { deps, invocation, requestId, next, broken } = run;
  const { client, handler, log, exitHook } = deps;
  const { request, replied } = client.openResponseStream(requestId);
  const stream = new ResponseStream(request, handler.highWaterMark);

  let waitForEmptyEventLoop = true;
  let finished = false;
  // Streaming handlers also default to waiting for an empty event loop before the next invocation.
  const finish = (): void => {
    if (finished) return;
    finished = true;
    exitHook.reset();
    if (waitForEmptyEventLoop) exitHook.set(() => setImmediate(next));
    else next();
  };
  const fail = (error: unknown): void => {
    log.logError('Invoke Error', error);
    stream.fail(error);
    // Wait for the Runtime API's answer, so the next /next never overtakes this response.
    replied.then(finish, broken);
  };

  // The event loop drained with the response unfinished: the handler can no longer finish it.
  exitHook.set(() => fail(new NodeJsExit()));
  try {
    const base = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value: boolean) {
        waitForEmptyEventLoop = value;
      },
    };
    const context = attachInvocationFields(base, invocation.headers, deps.fn);
    const userHandler = handler.fn;
    const result = userHandler(JSON.parse(invocation.body), stream, context);
    if (!isThenable(result)) {
      fail('Streaming does not support non-async handlers.');
      return;
    }
    if ((await result) !== undefined) console.warn('Streaming handlers ignore return values.');
    // The invocation is over when the Runtime API has the whole stream, which needs the handler to end it.
    await replied;
    if (!stream.writableFinished) {
      fail('Response stream is not finished.');
      return;
    }
    finish();
  } catch (err) {
    fail(err);
  }
}
