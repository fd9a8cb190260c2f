// Defines `globalThis.awslambda` (streamifyResponse, HttpResponseStream) for user code, before it loads.
import { HIGH_WATER_MARK, STREAMING_MARK } from './handler-loader.ts';
import { HttpResponseStream } from './http-response-stream.ts';

export interface StreamifyOptions {
  highWaterMark?: number;
}

/** Marks a handler `(event, responseStream, context)` as streaming; the marks are read when the handler loads. */
export function streamifyResponse<H extends object>(handler: H, options?: StreamifyOptions): H {
  const marked = handler as Record<symbol, unknown>;
  marked[STREAMING_MARK] = 'response';
  if (typeof options?.highWaterMark === 'number') marked[HIGH_WATER_MARK] = Math.trunc(options.highWaterMark);
  return handler;
}

export function defineGlobalAwsLambda(target: object = globalThis): void {
  Object.assign(target, { awslambda: { streamifyResponse, HttpResponseStream } });
}
