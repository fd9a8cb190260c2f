// Function URLs: requests for `<url-id>.<domain>` (by Host) or `/lambda-url/<url-id>/…` (path form, for
// setups without wildcard DNS) become payload-2.0 events; everything else passes to the next surface.
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { type Authorizer, callerOf } from '../../auth/authorizer.ts';
import type { GatewayConfig } from '../../config.ts';
import type { Invoker } from '../../invocation/invoker.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import { writeHttpAnswer } from '../http-answer.ts';
import { SYNC_PAYLOAD_LIMIT } from '../invoke-api/routes.ts';
import { corsHeaders, mergeCors, preflight } from './cors.ts';
import { functionUrlEvent } from './request-event.ts';
import { BAD_GATEWAY, functionUrlResponse } from './response.ts';
import { FunctionUrlStream } from './streaming-answer.ts';
import { FunctionUrlTable } from './url-table.ts';

export const PATH_FORM_PREFIX = '/lambda-url/';

export interface FunctionUrlDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  invoker: Invoker;
  authorizer: Authorizer;
}

interface UrlMatch {
  urlId: string;
  rawPath: string;
  domainName: string;
}

export function functionUrlRoutes({
  config,
  registry,
  invoker,
  authorizer,
}: FunctionUrlDeps): RequestHandler {
  const table = new FunctionUrlTable(registry);
  const raw = express.raw({ type: () => true, limit: SYNC_PAYLOAD_LIMIT });
  const suffix = `.${config.functionUrlDomain}`;

  const match = (req: Request): UrlMatch | undefined => {
    const [path = '/'] = splitQuery(req.originalUrl);
    const host = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    if (host.endsWith(suffix)) {
      const urlId = host.slice(0, -suffix.length);
      if (/^[a-z2-7]{32}$/.test(urlId)) return { urlId, rawPath: path, domainName: host };
    }
    if (path.startsWith(PATH_FORM_PREFIX)) {
      const rest = path.slice(PATH_FORM_PREFIX.length);
      const slash = rest.indexOf('/');
      const urlId = slash < 0 ? rest : rest.slice(0, slash);
      return { urlId, rawPath: slash < 0 ? '/' : rest.slice(slash), domainName: `${urlId}${suffix}` };
    }
    return undefined;
  };

  const serve = async (req: Request, res: Response, m: UrlMatch) => {
    const target = table.lookup(m.urlId);
    if (!target) throw new ApiError('ResourceNotFoundException', `No function URL with id ${m.urlId}`);
    const url = target.fn.spec.url!;
    const origin = req.get('origin');
    // Browsers send preflights without credentials, so they are answered before authorization.
    const pre = preflight(url.cors, req.method, origin, req.get('access-control-request-method'));
    if (pre) return writeHttpAnswer(res, { status: pre.status, headers: pre.headers, body: Buffer.alloc(0) });
    const qualifier = target.qualifier === '$LATEST' ? undefined : target.qualifier;
    const principal = await authorizer.authorizeFunctionUrl(callerOf(req), target.fn, qualifier);
    const resolved = invoker.resolve(target.fn.namespace, target.fn.name, qualifier);
    const requestId = randomUUID();
    const event = functionUrlEvent({
      method: req.method,
      rawPath: m.rawPath,
      rawQueryString: splitQuery(req.originalUrl)[1] ?? '',
      headers: req.headersDistinct as Record<string, string[]>,
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      sourceIp: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      protocol: `HTTP/${req.httpVersion}`,
      localPort: req.socket.localPort,
      tls: tlsOf(req.socket),
      authType: url.authType,
      urlId: m.urlId,
      domainName: m.domainName,
      namespace: target.fn.namespace,
      jwtClaims: principal?.claims,
      requestId,
      now: new Date(),
    });
    const withGatewayHeaders = <T extends { headers: Array<[string, string]> }>(answer: T): T => ({
      ...answer,
      headers: mergeCors(answer.headers, corsHeaders(url.cors, origin)),
    });
    res.set('x-amzn-requestid', requestId);
    const stream =
      url.invokeMode === 'RESPONSE_STREAM' ? new FunctionUrlStream(res, withGatewayHeaders) : undefined;
    const out = await invoker.invoke(resolved, Buffer.from(JSON.stringify(event)), {
      // The function's _X_AMZN_TRACE_ID is the trace header its event carries.
      traceHeader: (event.headers as Record<string, string>)['x-amzn-trace-id'],
      requestId,
      sink: stream,
    });
    if (stream?.finish(out)) return;
    const response = out.result.outcome === 'error' ? BAD_GATEWAY : functionUrlResponse(out.body);
    writeHttpAnswer(res, withGatewayHeaders(response));
  };

  return (req: Request, res: Response, next: NextFunction) => {
    const m = match(req);
    if (!m) return next();
    raw(req, res, (err?: unknown) => {
      if (err) return next(err);
      serve(req, res, m).catch(next);
    });
  };
}

function tlsOf(socket: Socket): { version: string; cipher: string } | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  return { version: socket.getProtocol() ?? '', cipher: socket.getCipher().name };
}

function splitQuery(url: string): [string, string | undefined] {
  const i = url.indexOf('?');
  return i < 0 ? [url, undefined] : [url.slice(0, i), url.slice(i + 1)];
}
