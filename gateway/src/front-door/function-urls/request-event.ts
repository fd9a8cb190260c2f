// HTTP request → Lambda function URL event, payload format 2.0 (reference §5.2), with the headers AWS's
// front end adds (forwarding, trace, TLS) and without the hop-by-hop ones it consumes.
import { traceHeader } from '../trace-header.ts';

export interface UrlRequest {
  method: string;
  /** Path as the function sees it, still percent-encoded, without the query. */
  rawPath: string;
  rawQueryString: string;
  /** Every header's values as received (Node's `headersDistinct`), names lower-cased. */
  headers: Record<string, string[]>;
  body: Buffer;
  sourceIp: string;
  protocol: string;
  /** The front-door port the request came in on (`x-forwarded-port`). */
  localPort: number | undefined;
  /** Present when the connection was TLS: its protocol version and cipher (`x-amzn-tls-*`). */
  tls?: { version: string; cipher: string } | undefined;
  /** `NONE` URLs have no caller identity: AWS puts `anonymous` in `requestContext.accountId`. */
  authType: 'NONE' | 'JWT';
  urlId: string;
  domainName: string;
  namespace: string;
  /** The verified claims of a caller of a JWT function URL. */
  jwtClaims?: Readonly<Record<string, unknown>> | undefined;
  requestId: string;
  now: Date;
}

const TEXT_TYPES =
  /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql|x-yaml|yaml)\b|[^;]*\+(json|xml)\b)/i;

/** Headers of one connection (RFC 9110 §7.6.1), not of the request: the function never sees them. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function functionUrlEvent(r: UrlRequest): Record<string, unknown> {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  // A Connection header names further headers that are hop-by-hop for this request.
  const dropped = new Set(HOP_BY_HOP);
  for (const v of r.headers.connection ?? []) {
    for (const name of v.split(',')) dropped.add(name.trim().toLowerCase());
  }
  for (const [name, value] of Object.entries(r.headers)) {
    if (dropped.has(name)) continue;
    if (name === 'cookie') {
      for (const v of value) cookies.push(...v.split(/;\s*/).filter(Boolean));
      continue;
    }
    headers[name] = value.join(','); // repeated headers are joined with a bare comma
  }
  Object.assign(headers, forwardingHeaders(r, headers));
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath: r.rawPath,
    rawQueryString: r.rawQueryString,
  };
  if (cookies.length > 0) event.cookies = cookies;
  event.headers = headers;
  const query = queryParameters(r.rawQueryString);
  if (query) event.queryStringParameters = query;
  event.requestContext = {
    accountId: r.authType === 'NONE' ? 'anonymous' : r.namespace,
    apiId: r.urlId,
    domainName: r.domainName,
    domainPrefix: r.urlId,
    http: {
      method: r.method,
      path: r.rawPath,
      protocol: r.protocol,
      sourceIp: r.sourceIp,
      userAgent: headers['user-agent'] ?? '',
    },
    requestId: r.requestId,
    routeKey: '$default',
    stage: '$default',
    time: clfTime(r.now),
    timeEpoch: r.now.getTime(),
  };
  if (r.jwtClaims) {
    // Shaped like API Gateway's JWT authorizer context, which handlers written for it already read.
    (event.requestContext as Record<string, unknown>).authorizer = {
      jwt: { claims: r.jwtClaims, scopes: scopesOf(r.jwtClaims) },
    };
  }
  if (r.body.length > 0) {
    const text = isText(headers['content-type'], r.body);
    event.body = text ? r.body.toString('utf8') : r.body.toString('base64');
    event.isBase64Encoded = !text;
  } else {
    event.isBase64Encoded = false;
  }
  return event;
}

/**
 * What AWS's front end adds: the client address appended to any `x-forwarded-for` the client sent, the
 * scheme and port it was reached on, a trace header (the caller's when valid), and the TLS parameters.
 */
function forwardingHeaders(r: UrlRequest, headers: Record<string, string>): Record<string, string> {
  const added: Record<string, string> = {
    'x-forwarded-for': headers['x-forwarded-for']
      ? `${headers['x-forwarded-for']}, ${r.sourceIp}`
      : r.sourceIp,
    'x-forwarded-proto': r.tls ? 'https' : 'http',
    'x-forwarded-port': String(r.localPort ?? (r.tls ? 443 : 80)),
    'x-amzn-trace-id': traceHeader(headers['x-amzn-trace-id']),
  };
  if (r.tls) {
    added['x-amzn-tls-version'] = r.tls.version;
    added['x-amzn-tls-cipher-suite'] = r.tls.cipher;
  }
  return added;
}

/** OAuth scopes: the `scope` claim (space-separated) or `scp` (a list); null when there are none. */
function scopesOf(claims: Readonly<Record<string, unknown>>): string[] | null {
  if (typeof claims.scope === 'string') return claims.scope.split(' ').filter(Boolean);
  if (Array.isArray(claims.scp)) return claims.scp.filter((s): s is string => typeof s === 'string');
  return null;
}

/** Decoded values, repeated keys comma-joined; undefined when there is no query. */
function queryParameters(raw: string): Record<string, string> | undefined {
  if (!raw) return undefined;
  const out: Record<string, string> = {};
  for (const [key, value] of new URLSearchParams(raw)) out[key] = key in out ? `${out[key]},${value}` : value;
  return out;
}

/** Text content types travel as text; anything else, or bytes that are not UTF-8, as base64. */
function isText(contentType: string | undefined, body: Buffer): boolean {
  if (contentType) return TEXT_TYPES.test(contentType);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `12/Mar/2020:19:03:58 +0000` */
function clfTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
