// The one place errors become HTTP on the Lambda API surfaces: Lambda's exception name in
// x-amzn-ErrorType, its body shape, never a stack, a path or a parser's own words.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { ApiError } from '../../../apis/errors.ts';
import { AuthenticationError } from '../auth/authentication-error.ts';
import { failRequest } from '../http/listener-guard.ts';

export function errorMiddleware(log: (line: string) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    // A 401 carries its Bearer challenge; it is no Lambda API exception, so it is not in the table.
    const operation = (res.locals.lambdaOperation as string | undefined) ?? 'InvokeFunction';
    const apiError = err instanceof AuthenticationError ? err : toApiError(err, operation);
    if (apiError.fault === 'Service')
      log(`gateway error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    if (res.headersSent) {
      // Part of an answer is out: the only honest ending is a cut connection.
      res.destroy();
      return;
    }
    try {
      writeError(
        res,
        apiError.status,
        { 'x-amzn-ErrorType': apiError.type, ...apiError.headers },
        apiError.body(),
      );
    } catch (writeErr) {
      log(`gateway error: could not send ${apiError.type}: ${String(writeErr)}`);
      failRequest(res);
    }
  };
}

export const unknownOperation: RequestHandler = (req, _res, next) =>
  next(new ApiError('UnknownOperationException', `Unknown operation ${req.method} ${printable(req.path)}`));

/** Writes past anything a failed handler left on the response (headers, a status line with CR/LF). */
function writeError(res: Response, status: number, headers: Record<string, string>, body: unknown): void {
  for (const name of res.getHeaderNames()) if (!KEPT_HEADERS.has(name)) res.removeHeader(name);
  res.statusMessage = '';
  res.status(status).set(headers).json(body);
}

/** Headers a handler may set before it fails that still describe the error answer. */
const KEPT_HEADERS = new Set(['x-amzn-requestid']);

/** Body-parser and router errors by their `type`; anything unrecognised is the service's fault. */
function toApiError(err: unknown, operation: string): ApiError {
  if (err instanceof ApiError) return err;
  // The router's decodeURIComponent of a path parameter (e.g. FunctionName `%FF`).
  if (err instanceof URIError) {
    return new ApiError('InvalidParameterValueException', 'The request path is not valid percent-encoding');
  }
  const e = (err ?? {}) as { type?: unknown; status?: unknown; limit?: unknown };
  switch (e.type) {
    case 'entity.too.large':
      return new ApiError(
        'RequestTooLargeException',
        `Request must be smaller than ${Number(e.limit)} bytes for the ${operation} operation`,
      );
    case 'request.aborted':
    case 'request.size.invalid':
      return new ApiError('InvalidRequestContentException', 'The request body was incomplete');
    case 'entity.parse.failed':
      return new ApiError('InvalidRequestContentException', 'Could not parse request body into json');
    case 'encoding.unsupported':
      return new ApiError('UnsupportedMediaTypeException', 'Unsupported Content-Encoding');
    case 'charset.unsupported':
      return new ApiError('UnsupportedMediaTypeException', 'Unsupported charset');
  }
  // Other client faults the parsers report with a 4xx status, e.g. a gzip body that is not gzip.
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new ApiError('InvalidRequestContentException', 'The request body could not be read');
  }
  return new ApiError('ServiceException', 'An internal error occurred');
}

/** A path as it may appear in a message: no control characters, bounded. */
function printable(path: string): string {
  return path.replace(/[^\x20-\x7e]/g, '?').slice(0, 256);
}
