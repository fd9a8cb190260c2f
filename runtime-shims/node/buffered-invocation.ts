// Runs one invocation of an async or callback-style handler and posts its JSON result or its error.
import { buildCallbackContext, type InvocationOutcomes } from './callback-context.ts';
import { NodeJsExit } from './errors.ts';
import { isThenable } from './handler-loader.ts';
import { attachInvocationFields } from './invoke-context.ts';
import type { InvocationRun } from './invoke-loop.ts';

export function runBufferedInvocation(run: InvocationRun): void {
  const { deps, invocation, requestId, next, broken } = run;
  const { client, handler, log, exitHook } = deps;

  const outcomes: InvocationOutcomes = {
    respond(result, then) {
      const body = serialise(result);
      if (body === undefined) {
        outcomes.fail(new Error('Unable to stringify response body'), then);
        return;
      }
      client.postResponse(requestId, body).then(then, broken);
    },
    fail(error, then) {
      log.logError('Invoke Error', error);
      client.postError(requestId, error).then(then, broken);
    },
  };
  const { callback, members, markCompleted } = buildCallbackContext(outcomes, exitHook, next);

  // The event loop drained before the handler answered: nothing left can make it answer now.
  exitHook.set(() => {
    markCompleted();
    if (handler.isAsync) outcomes.fail(new NodeJsExit(), next);
    // A callback handler that never called back succeeds with null, as on Lambda.
    else client.postResponse(requestId, 'null').then(next, broken);
  });

  // Taken before user code runs, so a handler that overwrites context.succeed cannot redirect its own result.
  const { succeed, fail } = members;
  try {
    const context = attachInvocationFields(members, invocation.headers, deps.fn);
    // Called as a plain function, so stack traces name the user's handler rather than a runtime property.
    const userHandler = handler.fn;
    const result = userHandler(JSON.parse(invocation.body), context, callback);
    if (isThenable(result)) result.then(succeed, fail);
  } catch (err) {
    callback(err);
  }
}

/** The response body: `undefined` becomes `null`; a value JSON cannot represent gives `undefined`. */
function serialise(result: unknown): string | undefined {
  try {
    return JSON.stringify(result === undefined ? null : result) as string | undefined;
  } catch {
    return undefined;
  }
}
