// CORS for function URLs from the function's configuration (reference §5.4): preflights are answered
// without invoking, and the configured headers are added to every response, overriding the function's.
import type { FunctionSpec } from '../../../../apis/function.ts';

type Cors = NonNullable<NonNullable<FunctionSpec['url']>['cors']>;

function allowedOrigin(cors: Cors, origin: string | undefined): string | undefined {
  if (!origin || !cors.allowOrigins?.length) return undefined;
  if (cors.allowOrigins.includes('*')) return cors.allowCredentials ? origin : '*';
  return cors.allowOrigins.includes(origin) ? origin : undefined;
}

/** Headers for an ordinary response; empty when CORS is not configured or the origin is not allowed. */
export function corsHeaders(cors: Cors | undefined, origin: string | undefined): Array<[string, string]> {
  if (!cors) return [];
  const allowed = allowedOrigin(cors, origin);
  if (!allowed) return [];
  const out: Array<[string, string]> = [['access-control-allow-origin', allowed]];
  if (allowed !== '*') out.push(['vary', 'Origin']);
  if (cors.allowCredentials) out.push(['access-control-allow-credentials', 'true']);
  if (cors.exposeHeaders?.length) out.push(['access-control-expose-headers', cors.exposeHeaders.join(',')]);
  return out;
}

/** The answer to a preflight, or undefined when the request is not one. */
export function preflight(
  cors: Cors | undefined,
  method: string,
  origin: string | undefined,
  requestMethod: string | undefined,
): { status: number; headers: Array<[string, string]> } | undefined {
  if (!cors || method !== 'OPTIONS' || !origin || !requestMethod) return undefined;
  const headers = corsHeaders(cors, origin);
  if (headers.length > 0) {
    if (cors.allowMethods?.length)
      headers.push(['access-control-allow-methods', cors.allowMethods.join(',')]);
    if (cors.allowHeaders?.length)
      headers.push(['access-control-allow-headers', cors.allowHeaders.join(',')]);
    headers.push(['access-control-max-age', String(cors.maxAge ?? 0)]);
  }
  return { status: 200, headers };
}

/** Configured CORS headers win over the same headers set by the function. */
export function mergeCors(
  own: Array<[string, string]>,
  cors: Array<[string, string]>,
): Array<[string, string]> {
  const names = new Set(cors.map(([k]) => k));
  return [...own.filter(([k]) => !names.has(k)), ...cors];
}
