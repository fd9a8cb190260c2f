// The front door's span: one SERVER span per request, continuing the caller's `traceparent` or
// `X-Amzn-Trace-Id`, active for every router behind it. Mounted first, before any surface.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import type { Tracing } from './tracing.ts';

export function frontDoorSpan(tracing: Tracing): RequestHandler {
  return (req, res, next) => {
    const traceparent = req.get('traceparent');
    // With tracing off there is nothing to record; only a W3C parent needs carrying to the function.
    if (!tracing.enabled && traceparent === undefined) return next();
    const parent = tracing.extract(traceparent, req.get('x-amzn-trace-id'));
    if (!tracing.enabled) return tracing.with(parent, next);
    const span = tracing.startSpan(
      req.method,
      { 'http.request.method': req.method, 'url.path': req.path, 'server.address': req.hostname },
      { kind: SpanKind.SERVER, parent },
    );
    const finished = () => {
      const route = req.route?.path;
      if (typeof route === 'string') {
        span.updateName(`${req.method} ${route}`);
        span.setAttribute('http.route', route);
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', finished);
    // A caller that hangs up early still ends the span.
    res.once('close', () => {
      if (!res.writableFinished) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'client closed the connection' });
        span.end();
      }
    });
    // Body parsers (raw-body binds its callback) and awaits keep this context up to the handler.
    tracing.with(tracing.contextWith(span, parent), next);
  };
}
