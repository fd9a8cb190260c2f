// A test token issuer: key pairs, signed JWTs, and a real local HTTP server publishing the JWKS.
import { createHmac, KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
  spki: string;
}

export async function signingKey(kid: string, alg = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicKey, jwk, spki: await exportSPKI(publicKey) };
}

export interface MintOptions {
  iss?: string;
  /** null leaves the claim out. */
  aud?: string | string[] | null;
  sub?: string;
  /** Seconds from now (negative: in the past); null leaves the claim out. */
  expiresIn?: number | null;
  notBefore?: number;
  claims?: JWTPayload;
  header?: Record<string, unknown>;
  now?: number;
}

/** A signed token; defaults fit the issuer the tests configure (`https://issuer.test`, audience serval). */
export async function mint(key: SigningKey, o: MintOptions = {}): Promise<string> {
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  const payload: JWTPayload = { ...o.claims };
  if (o.sub !== undefined || !('sub' in payload)) payload.sub = o.sub ?? 'alice';
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...o.header })
    .setIssuer(o.iss ?? 'https://issuer.test')
    .setIssuedAt(now);
  if (o.aud !== null) jwt.setAudience(o.aud ?? 'serval');
  if (o.expiresIn !== null) jwt.setExpirationTime(now + (o.expiresIn ?? 300));
  if (o.notBefore !== undefined) jwt.setNotBefore(now + o.notBefore);
  return jwt.sign(key.privateKey);
}

/** An auth config's issuer entry for the tokens `mint` signs by default (`corp`, issuer.test, audience serval). */
export function testIssuer(
  keys: { jwksUrl: string } | { staticKeys: string[] },
  namespace: Record<string, unknown> = { claim: 'tenant' },
): Record<string, unknown> {
  return { name: 'corp', issuer: 'https://issuer.test', audience: 'serval', ...keys, namespace };
}

/** A JWKS endpoint whose key list the test changes at will; it counts fetches and can fail on purpose. */
export class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  failing = false;
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((_req, res) => {
      this.fetches++;
      if (this.failing) return void res.writeHead(503).end();
      res
        .writeHead(200, { 'content-type': 'application/jwk-set+json' })
        .end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/** A token with the given segments, base64url-encoding objects. */
export function rawToken(header: unknown, payload: unknown, signature = ''): string {
  const enc = (x: unknown) =>
    typeof x === 'string' ? x : Buffer.from(JSON.stringify(x)).toString('base64url');
  return `${enc(header)}.${enc(payload)}.${signature}`;
}

/**
 * Signs any header and payload as given, bypassing jose's checks: RS256 with an RSA key, or HMAC-SHA256
 * with arbitrary secret bytes (for algorithm-confusion attempts).
 */
export function signRaw(
  header: Record<string, unknown>,
  payload: unknown,
  key: CryptoKey | Buffer | string,
): string {
  const input = rawToken(header, payload).slice(0, -1);
  const signature =
    typeof key === 'string' || Buffer.isBuffer(key)
      ? createHmac('sha256', key).update(input).digest()
      : sign('sha256', Buffer.from(input), KeyObject.from(key));
  return `${input}.${signature.toString('base64url')}`;
}
