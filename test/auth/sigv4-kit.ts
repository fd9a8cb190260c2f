// Signs requests with the AWS SDK's own SigV4 signer (@smithy/signature-v4), so tests check the gateway's
// verifier against what real clients send, not against itself.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

/** node:crypto behind the SDK's Checksum interface: a hash, or an HMAC when given a secret. */
class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {}
}

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(data: SourceData): string | Buffer {
  if (typeof data === 'string') return data;
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface ToSign {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  region?: string;
  service?: string;
  signingDate?: Date;
}

function httpRequest(r: ToSign): HttpRequest {
  const url = new URL(r.url);
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    const prior = query[k];
    query[k] = prior === undefined ? v : ([] as string[]).concat(prior, v);
  }
  return new HttpRequest({
    method: r.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port) || undefined,
    // The SDK keeps the path percent-encoded, as its serializers build it.
    path: url.pathname,
    query,
    headers: { host: url.host, ...(r.headers ?? {}) },
    body: r.body,
  });
}

function signer(credentials: Credentials, r: ToSign): SignatureV4 {
  return new SignatureV4({
    credentials,
    region: r.region ?? 'local',
    service: r.service ?? 'lambda',
    sha256: Sha256,
    // As the Lambda client signs: no x-amz-content-sha256 header, the body's hash in the canonical request.
    applyChecksum: false,
  });
}

/** Headers (Authorization, X-Amz-Date, …) the SDK would send for this request. */
export async function signHeaders(credentials: Credentials, r: ToSign): Promise<Record<string, string>> {
  const signed = await signer(credentials, r).sign(httpRequest(r), { signingDate: r.signingDate });
  return signed.headers as Record<string, string>;
}

/** The presigned URL the SDK would produce. */
export async function presignUrl(
  credentials: Credentials,
  r: ToSign & { expiresIn?: number },
): Promise<string> {
  const signed = await signer(credentials, r).presign(httpRequest(r), {
    signingDate: r.signingDate,
    expiresIn: r.expiresIn ?? 300,
  });
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encode(k)}=${encode(String(x))}`))
    .join('&');
  const url = new URL(r.url);
  return `${url.origin}${signed.path}${query ? `?${query}` : ''}`;
}

const encode = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
