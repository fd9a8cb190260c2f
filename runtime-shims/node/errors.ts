// The runtime's own error types and the one place that turns any thrown value into Lambda's error shapes.
import { types } from 'node:util';

/** The body of `/error` and `/init/error`, exactly as the official Node client sends it (reference §3.3). */
export interface ErrorResponse {
  errorType: string;
  errorMessage: string;
  trace?: string[];
}

// Each class names itself `Runtime.<Reason>` on its prototype, not as an own field: V8 reads the name while
// building the stack, so the first stack line reads "Runtime.ImportModuleError: …" as Lambda's traces do,
// and the name stays out of the JSON that logs the error's own properties.
export class ImportModuleError extends Error {
  static {
    ImportModuleError.prototype.name = 'Runtime.ImportModuleError';
  }
}
export class HandlerNotFound extends Error {
  static {
    HandlerNotFound.prototype.name = 'Runtime.HandlerNotFound';
  }
}
export class MalformedHandlerName extends Error {
  static {
    MalformedHandlerName.prototype.name = 'Runtime.MalformedHandlerName';
  }
}
export class UserCodeSyntaxError extends Error {
  static {
    UserCodeSyntaxError.prototype.name = 'Runtime.UserCodeSyntaxError';
  }
}
export class MalformedStreamingHandler extends Error {
  static {
    MalformedStreamingHandler.prototype.name = 'Runtime.MalformedStreamingHandler';
  }
}
export class InvalidStreamingOperation extends Error {
  static {
    InvalidStreamingOperation.prototype.name = 'Runtime.InvalidStreamingOperation';
  }
}

/** An async handler whose promise was still pending when nothing else was left to run. */
export class NodeJsExit extends Error {
  static {
    NodeJsExit.prototype.name = 'Runtime.NodeJsExit';
  }
  constructor() {
    super(
      'The Lambda runtime client detected an unexpected Node.js exit code. This is most commonly caused by a ' +
        'Promise that was never settled. For more information, see ' +
        'https://nodejs.org/docs/latest/api/process.html#exit-codes',
    );
  }
}

export class UnhandledPromiseRejection extends Error {
  static {
    UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';
  }
  reason: unknown;
  promise: unknown;
  constructor(reason: unknown, promise: unknown) {
    // `Error(undefined)` leaves the message empty, `Error(x)` stringifies x: keep that distinction.
    super(reason === undefined ? undefined : String(reason));
    this.reason = reason;
    this.promise = promise;
  }
}

/** Wraps a thrown non-Error so it can be logged like an Error. */
export function intoError(value: unknown): Error {
  return value instanceof Error ? value : new Error(value as string);
}

/** The `/error` body: Error-likes keep their name, message and stack lines; anything else is reported by type. */
export function toErrorResponse(value: unknown): ErrorResponse {
  try {
    if (types.isNativeError(value) || isErrorLike(value)) {
      const error = value as ErrorLike;
      // DEL cannot travel in an HTTP header, and the type is also sent as one.
      return {
        errorType: error.name.replaceAll('\x7F', '%7F'),
        errorMessage: error.message.replaceAll('\x7F', '%7F'),
        trace: error.stack.replaceAll('\x7F', '%7F').split('\n'),
      };
    }
    return { errorType: typeof value, errorMessage: String(value), trace: [] };
  } catch {
    // A hostile value (a throwing getter or toString, a stack that is not a string) still gets reported.
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** The Text-format log rendering of an error: a tab, then JSON with its name, message, code, own fields and stack. */
export function toFormattedError(error: unknown): string {
  try {
    return `\t${JSON.stringify(error, (_key, value: unknown) => withOwnProperties(value))}`;
  } catch {
    return `\t${JSON.stringify(toErrorResponse(error))}`;
  }
}

/** Makes a header value out of an error type; Node refuses control characters and non-Latin-1 text in headers. */
export function toHeaderValue(errorType: string): string {
  return errorType.replace(/[^\t\x20-\x7E\x80-\xFF]/g, '');
}

interface ErrorLike {
  name: string;
  message: string;
  stack: string;
}

// Error-shaped objects from another realm or library count as errors when all three fields are non-empty strings.
function isErrorLike(value: unknown): value is ErrorLike {
  if (value === null || typeof value !== 'object') return false;
  const { name, message, stack } = value as Partial<Record<keyof ErrorLike, unknown>>;
  return (
    typeof name === 'string' &&
    !!name &&
    typeof message === 'string' &&
    !!message &&
    typeof stack === 'string' &&
    !!stack
  );
}

function withOwnProperties(value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const shaped: Record<string, unknown> = {
    errorType: value.name,
    errorMessage: value.message,
    code: (value as { code?: unknown }).code,
    ...value,
  };
  if (typeof value.stack === 'string') shaped.stack = value.stack.split('\n');
  return shaped;
}
