// AWS Signature Version 4 as the SDKs and the CLI compute it for Lambda (not S3): the canonical request,
// the string to sign and the HMAC chain. Pure functions shared by the gateway's verifier and the `serval`
// CLI's signer.
import { createHash, createHmac, createSecretKey, type KeyObject } from 'node:crypto';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const TERMINATOR = 'aws4_request';

/** The request as it arrived: method, the path and query exactly as sent, every header's values. */
export interface WireRequest {
  method: string;
  /** Path and query, still percent-encoded (`req.originalUrl`). */
  url: string;
  headers: Readonly<Record<string, readonly string[] | undefined>>;
}

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, hex in upper case. */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * Outside S3 the path as sent (already encoded once by the client) is normalised and encoded again, so
 * `%3A` in a function ARN signs as `%253A`.
 */
export function canonicalUri(rawPath: string): string {
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && rawPath.endsWith('/') ? '/' : '';
  return escapeUri(`/${segments.join('/')}${trailing}`).replace(/%2F/g, '/');
}

/** Parameters decoded, encoded strictly, sorted by key then value; `skip` leaves out X-Amz-Signature. */
export function canonicalQuery(rawQuery: string, skip?: string): string {
  const pairs: string[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decode(eq < 0 ? part : part.slice(0, eq));
    if (skip !== undefined && key === skip) continue;
    pairs.push(`${escapeUri(key)}=${escapeUri(eq < 0 ? '' : decode(part.slice(eq + 1)))}`);
  }
  return pairs.sort(byKeyThenValue).join('&');
}

function byKeyThenValue(a: string, b: string): number {
  const [ka, va] = splitPair(a);
  const [kb, vb] = splitPair(b);
  if (ka !== kb) return ka < kb ? -1 : 1;
  return va < vb ? -1 : va > vb ? 1 : 0;
}

const splitPair = (pair: string): [string, string] => {
  const eq = pair.indexOf('=');
  return [pair.slice(0, eq), pair.slice(eq + 1)];
};

function decode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value; // not valid percent-encoding: signed as sent, so a mismatch is a signature error
  }
}

/** `name:value` lines for the signed headers; a header sent several times joins its values with commas. */
export function canonicalHeaders(headers: WireRequest['headers'], signed: readonly string[]): string {
  return signed
    .map((name) => {
      const values = (headers[name] ?? []).map((v) => v.trim().replace(/\s+/g, ' '));
      return `${name}:${values.join(',')}\n`;
    })
    .join('');
}

export function canonicalRequest(
  request: WireRequest,
  signedHeaders: readonly string[],
  payloadHash: string,
  skipQueryKey?: string,
): string {
  const q = request.url.indexOf('?');
  const path = q < 0 ? request.url : request.url.slice(0, q);
  const query = q < 0 ? '' : request.url.slice(q + 1);
  return [
    request.method,
    canonicalUri(path),
    canonicalQuery(query, skipQueryKey),
    canonicalHeaders(request.headers, signedHeaders),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
}

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Scope {
  /** `yyyymmdd` */
  date: string;
  region: string;
  service: string;
}

export const scopeString = (s: Scope): string => `${s.date}/${s.region}/${s.service}/${TERMINATOR}`;

/** The scope's signing key: the HMAC chain from the secret. It changes once a day per key and region. */
export function signingKey(secret: string, scope: Scope): KeyObject {
  let key: Buffer = hmac(`AWS4${secret}`, scope.date);
  key = hmac(key, scope.region);
  key = hmac(key, scope.service);
  // A KeyObject: HMACs keyed with one are several times faster than with a Buffer.
  return createSecretKey(hmac(key, TERMINATOR));
}

/** The hex signature of a canonical request, with a scope's signing key. */
export function signWith(key: KeyObject, amzDate: string, scope: Scope, canonical: string): string {
  const stringToSign = [ALGORITHM, amzDate, scopeString(scope), sha256Hex(canonical)].join('\n');
  return createHmac('sha256', key).update(stringToSign).digest('hex');
}

/** The hex signature of a canonical request for a secret, an `X-Amz-Date` and a scope. */
export function signature(secret: string, amzDate: string, scope: Scope, canonical: string): string {
  return signWith(signingKey(secret, scope), amzDate, scope, canonical);
}

const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The headers that sign a request for Lambda (or `options.service`) in `region` (the request's own, then
 * x-amz-date and authorization), as the SDKs compute them. `url` is absolute and already percent-encoded.
 * `options.key` lets a caller that signs often reuse the scope's key, which changes once a day.
 */
export function signRequest(
  credentials: SigningCredentials,
  request: { method: string; url: string; headers: Record<string, string>; body: string },
  region: string,
  now: Date,
  options: { service?: string; key?: (secret: string, scope: Scope) => KeyObject } = {},
): Record<string, string> {
  const url = new URL(request.url);
  const amzDate = now
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
  const headers: Record<string, string> = { host: url.host, 'x-amz-date': amzDate };
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  const signed = Object.keys(headers).sort();
  const wire: WireRequest = {
    method: request.method,
    url: `${url.pathname}${url.search}`,
    headers: Object.fromEntries(signed.map((n) => [n, [headers[n]!]])),
  };
  const scope: Scope = { date: amzDate.slice(0, 8), region, service: options.service ?? 'lambda' };
  const canonical = canonicalRequest(wire, signed, sha256Hex(request.body));
  const key = (options.key ?? signingKey)(credentials.secretAccessKey, scope);
  const hex = signWith(key, amzDate, scope, canonical);
  const authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scopeString(scope)}, SignedHeaders=${signed.join(';')}, Signature=${hex}`;
  return { ...request.headers, 'x-amz-date': amzDate, authorization };
}
