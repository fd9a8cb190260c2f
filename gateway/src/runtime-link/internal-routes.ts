// The gateway's internal listener, besides environment links: a health check, and in cluster mode the
// demand the controller converges pods to. Only holders of the shared link key (the controller) may read
// demand, since it carries environment credentials.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DemandProvider } from '../providers/kubernetes/demand-provider.ts';

export function internalRoutes(demand: DemandProvider | undefined, linkKey: string | undefined) {
  const key = linkKey ? Buffer.from(`Bearer ${linkKey}`) : undefined;
  const authorized = (req: IncomingMessage) => {
    const presented = Buffer.from(req.headers.authorization ?? '');
    return key !== undefined && presented.length === key.length && timingSafeEqual(presented, key);
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://internal');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
      return;
    }
    if (!demand || !url.pathname.startsWith('/serval/internal/v1/environments')) {
      res.writeHead(404).end();
      return;
    }
    if (!authorized(req)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Bearer' }).end();
      return;
    }
    if (req.method === 'GET' && url.pathname === '/serval/internal/v1/environments') {
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ environments: demand.list() }));
      return;
    }
    const gone = /^\/serval\/internal\/v1\/environments\/([0-9a-f-]{36})\/gone$/.exec(url.pathname);
    if (req.method === 'POST' && gone) {
      const reason = url.searchParams.get('reason') ?? 'the environment pod ended';
      const capacity = url.searchParams.get('capacity') === 'true';
      res.writeHead(demand.gone(gone[1]!, reason.slice(0, 512), capacity) ? 204 : 404).end();
      return;
    }
    res.writeHead(404).end();
  };
}
