// The completion half of a buffered invocation: `callback`, `context.done/succeed/fail` and
// `callbackWaitsForEmptyEventLoop`, with the official client's rule that only the first call counts.
import type { BeforeExitHook } from './before-exit.ts';

/** How an invocation's result leaves the runtime; `then` runs once the Runtime API has it. */
export interface InvocationOutcomes {
  respond(result: unknown, then: () => void): void;
  fail(error: unknown, then: () => void): void;
}

/** The members a buffered handler's context gets on top of the invocation fields. */
export interface CallbackMembers {
  callbackWaitsForEmptyEventLoop: boolean;
  succeed(result?: unknown): void;
  fail(error?: unknown): void;
  done(error?: unknown, result?: unknown): void;
}

export type HandlerCallback = (error?: unknown, result?: unknown) => void;

export interface CallbackContext {
  callback: HandlerCallback;
  members: CallbackMembers;
  /** Marks the invocation answered by someone else (the drain check), so a late callback cannot answer again. */
  markCompleted(): void;
}

export function buildCallbackContext(
  outcomes: InvocationOutcomes,
  exitHook: BeforeExitHook,
  scheduleNext: () => void,
): CallbackContext {
  let waitForEmptyEventLoop = true;
  let completed = false;
  let called = false;

  const complete = (result: unknown): void => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
      );
      return;
    }
    completed = true;
    outcomes.respond(result, scheduleNext);
  };

  const hasError = (error: unknown): boolean => error !== undefined && error !== null;

  // `callback` honours callbackWaitsForEmptyEventLoop; `done` and friends answer at once.
  const callback: HandlerCallback = (error, result) => {
    exitHook.reset();
    if (hasError(error)) outcomes.fail(error, scheduleNext);
    else if (!waitForEmptyEventLoop) complete(result);
    // The response waits until timers, sockets and other work the handler started have finished.
    else exitHook.set(() => setImmediate(() => complete(result)));
  };
  const done = (error?: unknown, result?: unknown): void => {
    exitHook.reset();
    if (hasError(error)) outcomes.fail(error, scheduleNext);
    else complete(result);
  };

  const firstCallOnly = <A extends unknown[]>(fn: (...args: A) => void) => {
    return (...args: A): void => {
      if (called) return;
      called = true;
      fn(...args);
    };
  };

  const members: CallbackMembers = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value: boolean) {
      waitForEmptyEventLoop = value;
    },
    succeed: firstCallOnly((result?: unknown) => done(null, result)),
    // `fail()` without a reason still fails the invocation; Lambda reports it as the string "handled".
    fail: firstCallOnly((error?: unknown) => (hasError(error) ? done(error, null) : done('handled'))),
    done: firstCallOnly(done),
  };

  return {
    callback: firstCallOnly(callback),
    members,
    markCompleted: () => {
      completed = true;
    },
  };
}
