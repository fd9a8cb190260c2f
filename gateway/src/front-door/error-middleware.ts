// The one place errors become HTTP: Lambda's exception name in x-amzn-ErrorType, its body shape, no stack.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ApiError } from '../../../apis/errors.ts';
import { AuthenticationError } from '../auth/authentication-error.ts';

export function errorMiddleware(log: (line: string) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    // A 401 carries its Bearer challenge; it is no Lambda API exception, so it is not in the table.
    const apiError = err instanceof AuthenticationError ? err : toApiError(err);
    if (apiError.fault === 'Service')
      log(`gateway error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    res
      .status(apiError.status)
      .set({ 'x-amzn-ErrorType': apiError.type, ...apiError.headers })
      .json(apiError.body());
  };
}

export const unknownOperation: RequestHandler = (req, _res, next) =>
  next(new ApiError('UnknownOperationException', `Unknown operation ${req.method} ${req.path}`));

function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    const limit = (err as { limit?: number }).limit;
    return new ApiError(
      'RequestTooLargeException',
      `Request must be smaller than ${limit} bytes for the InvokeFunction operation`,
    );
  }
  if (type === 'request.aborted' || type === 'request.size.invalid') {
    return new ApiError('InvalidRequestContentException', 'The request body was incomplete');
  }
  return new ApiError('ServiceException', 'An internal error occurred');
}
