// The gateway's internal listener, besides environment links: a health check, and in cluster mode the
// demand the controller converges pods to. Only holders of the shared link key (the controller) may read
// demand, since it carries environment credentials.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DEPLOYMENTS_INTERNAL } from '../deployments/internal-api.ts';
import type { DemandProvider } from '../providers/kubernetes/demand-provider.ts';

/** A handler for more internal routes (under its prefix), set once the gateway's parts exist. */
export type InternalHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
) => Promise<void> | void;

const ENVIRONMENTS = '/serval/internal/v1/environments';
const GONE = /^\/serval\/internal\/v1\/environments\/([0-9a-f-]{36})\/gone$/;

export function internalRoutes(
  demand: DemandProvider | undefined,
  linkKey: string | undefined,
  late: { deployments?: InternalHandler } = {},
) {
  const key = linkKey ? Buffer.from(`Bearer ${linkKey}`) : undefined;
  const authorized = (req: IncomingMessage) => {
    const presented = Buffer.from(req.headers.authorization ?? '');
    return key !== undefined && presented.length === key.length && timingSafeEqual(presented, key);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    // The request target is split, never parsed as a URL: `//x` or `http://[` are not URLs relative to a
    // base, and every path here is matched exactly, without decoding.
    const { path, query } = splitTarget(req.url ?? '/');
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (late.deployments && path.startsWith(DEPLOYMENTS_INTERNAL)) {
      if (!authorized(req)) res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
      else
        Promise.resolve(late.deployments(req, res, path, query)).catch(() => {
          if (!res.headersSent) res.writeHead(500).end();
        });
      return;
    }
    if (!demand || (path !== ENVIRONMENTS && !path.startsWith(`${ENVIRONMENTS}/`))) {
      res.writeHead(404).end();
      return;
    }
    if (!authorized(req)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
      return;
    }
    if (req.method === 'GET' && path === ENVIRONMENTS) {
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ environments: demand.list(), provisioned: demand.provisioned() }));
      return;
    }
    const gone = GONE.exec(path);
    if (req.method === 'POST' && gone) {
      const reason = query.get('reason') ?? 'the environment pod ended';
      const capacity = query.get('capacity') === 'true';
      res.writeHead(demand.gone(gone[1]!, reason.slice(0, 512), capacity) ? 204 : 404).end();
      return;
    }
    res.writeHead(404).end();
  };
}

function splitTarget(target: string): { path: string; query: URLSearchParams } {
  const i = target.indexOf('?');
  if (i < 0) return { path: target, query: new URLSearchParams() };
  // URLSearchParams replaces invalid percent-encoding instead of throwing.
  return { path: target.slice(0, i), query: new URLSearchParams(target.slice(i + 1)) };
}
