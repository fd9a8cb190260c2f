// ALB-style routes: requests matching a function's listener rules become ALB target events. Mounted after
// the Lambda API routes, so `/2015-03-31/…` and `/lambda-url/…` always reach their own surfaces.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { GatewayConfig } from '../../config.ts';
import type { Invoker, SyncInvocation } from '../../invocation/invoker.ts';
import { randomHex } from '../../observability/random-hex.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import { writeHttpAnswer } from '../http-answer.ts';
import { BodyTooLargeError, readRawBody } from '../raw-body.ts';
import { type AlbResponse, albEvent, albResponse, targetGroupArn } from './alb-event.ts';
import { type ListenerRule, ListenerRules } from './listener-rules.ts';

/** ALB's Lambda request and response limit. */
export const ALB_PAYLOAD_LIMIT = 1024 * 1024;

export interface LoadBalancerDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  invoker: Invoker;
  log: (line: string) => void;
}

export function loadBalancerRoutes({ config, registry, invoker, log }: LoadBalancerDeps): RequestHandler {
  const rules = new ListenerRules(registry);
  let reported = 0;

  const serve = async (req: Request, res: Response, rule: ListenerRule, body: Buffer) => {
    const [path = '/', rawQuery = ''] = splitQuery(req.originalUrl);
    const headers = { ...(req.headersDistinct as Record<string, string[]>) };
    const clientIp = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    headers['x-forwarded-for'] = [...(headers['x-forwarded-for'] ?? []), clientIp];
    headers['x-forwarded-proto'] = ['http'];
    headers['x-forwarded-port'] = [String(req.socket.localPort ?? '')];
    headers['x-amzn-trace-id'] ??= [`Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomHex(12)}`];
    const event = albEvent({
      method: req.method,
      path,
      rawQuery,
      headers,
      body,
      multiValue: rule.multiValueHeaders,
      targetGroupArn: targetGroupArn(config.region, rule.fn.namespace, rule.fn.name),
    });
    let out: SyncInvocation;
    try {
      const target = invoker.resolve(rule.fn.namespace, rule.fn.name);
      out = await invoker.invoke(target, Buffer.from(JSON.stringify(event)), {
        traceHeader: headers['x-amzn-trace-id']?.at(-1),
      });
    } catch (err) {
      // The ALB shows throttles and platform failures to its clients as 502, not as Lambda API errors.
      if (err instanceof ApiError) return send(res, albError(502, 'Bad Gateway'));
      throw err;
    }
    const valid =
      out.result.outcome === 'success' && out.body.length <= ALB_PAYLOAD_LIMIT
        ? albResponse(out.body, rule.multiValueHeaders)
        : undefined;
    send(res, valid ?? albError(502, 'Bad Gateway'));
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const rule = rules.match(req.headers.host ?? '', splitQuery(req.originalUrl)[0] ?? '/');
    for (const conflict of rules.conflicts.slice(reported)) log(`ALB rule ignored: ${conflict}`);
    reported = rules.conflicts.length;
    if (!rule) return next();
    readRawBody(req, ALB_PAYLOAD_LIMIT).then(
      (body) => serve(req, res, rule, body).catch(next),
      (err: unknown) =>
        err instanceof BodyTooLargeError ? send(res, albError(413, 'Request Entity Too Large')) : next(err),
    );
  };
}

/** The ALB's own error pages. */
function albError(status: number, text: string): AlbResponse {
  const html = `<html>\r\n<head><title>${status} ${text}</title></head>\r\n<body>\r\n<center><h1>${status} ${text}</h1></center>\r\n</body>\r\n</html>\r\n`;
  return { status, headers: [['content-type', 'text/html']], body: Buffer.from(html) };
}

function send(res: Response, r: AlbResponse): void {
  writeHttpAnswer(res, r);
}

function splitQuery(url: string): [string, string | undefined] {
  const i = url.indexOf('?');
  return i < 0 ? [url, undefined] : [url.slice(0, i), url.slice(i + 1)];
}
