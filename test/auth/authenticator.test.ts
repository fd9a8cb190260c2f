// Token verification with jose under a moved clock: skew bounds, the verified-token cache, JWKS caching,
// refresh on an unknown kid (at most once per cooldown), retirement, and outages.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuthFile } from '../../gateway/src/auth/auth-config.ts';
import { AuthenticationError } from '../../gateway/src/auth/authentication-error.ts';
import { Authenticator } from '../../gateway/src/auth/authenticator.ts';
import { KeysUnavailableError } from '../../gateway/src/auth/key-sources.ts';
import { testDataRoot } from '../support/serval.ts';
import { JwksServer, mint, type SigningKey, signingKey } from './token-kit.ts';

/** A self-signed certificate for 127.0.0.1 (test only), standing in for the API server's private CA. */
const FIXTURES = join(import.meta.dirname, 'fixtures');

const T0 = Date.UTC(2026, 0, 1);
let now = T0;
const clock = () => now;
const logs: string[] = [];
let k1: SigningKey;
let k2: SigningKey;
let ec: SigningKey;
let jwks: JwksServer;

beforeAll(async () => {
  [k1, k2, ec] = await Promise.all([signingKey('k1'), signingKey('k2'), signingKey('ec1', 'ES256')]);
  jwks = await new JwksServer().start();
});
afterAll(() => jwks.stop());

const bearer = (token: string) => `Bearer ${token}`;

function authenticator(yaml: string): Authenticator {
  return new Authenticator(parseAuthFile(yaml, '/etc/serval/auth.yaml').issuers, {
    clock,
    log: (l) => logs.push(l),
  });
}

async function rejection(a: Authenticator, header: string | undefined): Promise<string> {
  try {
    await a.authenticate(header);
  } catch (err) {
    if (err instanceof AuthenticationError) return err.reason;
    throw err;
  }
  return 'accepted';
}

const staticIssuer = (extra = '') => `
issuers:
  - name: corp
    issuer: https://issuer.test
    audience: [serval, other]
    namespace: { claim: tenant }
    clockSkewSeconds: 60
    staticKeys:
      - ${JSON.stringify(k1.spki)}
      - ${JSON.stringify(ec.jwk)}
${extra}`;

describe('static keys', () => {
  it('maps a verified token to a principal', async () => {
    now = T0;
    const a = authenticator(staticIssuer());
    const token = await mint(k1, { now, sub: 'alice', claims: { tenant: 'media', groups: ['dev', 'ops'] } });
    expect(await a.authenticate(bearer(token))).toMatchObject({
      id: 'serval:corp:alice',
      issuer: 'corp',
      subject: 'alice',
      namespace: 'media',
      groups: ['dev', 'ops'],
    });
    const es = await mint(ec, { now, aud: 'other', claims: { tenant: 'media' } });
    expect((await a.authenticate(bearer(es))).namespace).toBe('media');
  });

  it('accepts an expired token within the clock skew, and not beyond it', async () => {
    now = T0;
    const a = authenticator(staticIssuer());
    const token = await mint(k1, { now, expiresIn: 10, claims: { tenant: 'media' } });
    now = T0 + 69_000; // 59 s past exp
    expect(await rejection(a, bearer(token))).toBe('accepted');
    now = T0 + 71_000; // 61 s past exp: the verified-token cache must not outlive exp + skew
    expect(await rejection(a, bearer(token))).toBe('expired');
  });

  it('accepts a token not yet valid only within the skew', async () => {
    now = T0;
    const a = authenticator(staticIssuer());
    expect(await rejection(a, bearer(await mint(k1, { now, notBefore: 50, claims: { tenant: 'm' } })))).toBe(
      'accepted',
    );
    expect(await rejection(a, bearer(await mint(k1, { now, notBefore: 70, claims: { tenant: 'm' } })))).toBe(
      'not-yet-valid',
    );
  });

  it('needs exp, sub and a namespace', async () => {
    now = T0;
    const a = authenticator(staticIssuer());
    expect(
      await rejection(a, bearer(await mint(k1, { now, expiresIn: null, claims: { tenant: 'm' } }))),
    ).toBe('missing-claim');
    expect(await rejection(a, bearer(await mint(k1, { now, claims: {} })))).toBe('no-namespace');
    expect(await rejection(a, bearer(await mint(k1, { now, claims: { tenant: 'Not_A_Namespace' } })))).toBe(
      'no-namespace',
    );
  });

  it('tells missing credentials from bad ones', async () => {
    const a = authenticator(staticIssuer());
    expect(await rejection(a, undefined)).toBe('missing');
    expect(await rejection(a, 'Basic dXNlcjpwYXNz')).toBe('missing');
    expect(await rejection(a, 'Bearer not-a-jwt')).toBe('malformed');
    expect(await rejection(a, `Bearer ${'a'.repeat(5000)}.${'b'.repeat(5000)}.c`)).toBe('malformed');
  });

  it('a static key without kid verifies tokens whatever their kid; one with a kid only its own', async () => {
    now = T0;
    const a = authenticator(`
issuers:
  - name: ci
    issuer: https://issuer.test
    audience: serval
    namespace: { fixed: ci }
    staticKeys:
      - { pem: ${JSON.stringify(k1.spki)} }
      - { pem: ${JSON.stringify(k2.spki)}, kid: k2 }
`);
    const p = await a.authenticate(bearer(await mint({ ...k1, kid: 'whatever' }, { now })));
    expect(p.namespace).toBe('ci');
    const wrongKid = await mint({ ...k2, kid: 'not-k2' }, { now });
    // Not k2 by kid, and the kid-less key (k1) does not verify k2's signature.
    expect(await rejection(a, bearer(wrongKid))).toBe('bad-signature');
  });

  it('maps Kubernetes service-account tokens', async () => {
    now = T0;
    const a = authenticator(`
issuers:
  - name: k8s
    kubernetes: true
    issuer: https://kubernetes.default.svc.cluster.local
    audience: serval
    staticKeys: [${JSON.stringify(k1.spki)}]
`);
    const token = await mint(k1, {
      now,
      iss: 'https://kubernetes.default.svc.cluster.local',
      sub: 'system:serviceaccount:media:thumbnailer',
      claims: { 'kubernetes.io': { namespace: 'media', serviceaccount: { name: 'thumbnailer' } } },
    });
    expect(await a.authenticate(bearer(token))).toMatchObject({
      id: 'serval:k8s:system:serviceaccount:media:thumbnailer',
      namespace: 'media',
      groups: ['system:serviceaccounts', 'system:serviceaccounts:media', 'system:authenticated'],
    });
  });
});

describe('JWKS keys', () => {
  const remote = () =>
    authenticator(`
issuers:
  - name: corp
    issuer: https://issuer.test
    audience: serval
    namespace: { fixed: media }
    jwksUrl: ${jwks.url}
    jwksCacheMaxAgeSeconds: 600
    jwksCooldownSeconds: 30
`);

  it('fetches once, then verifies from the cache', async () => {
    now = T0;
    jwks.keys = [k1.jwk];
    const before = jwks.fetches;
    const a = remote();
    for (let i = 0; i < 3; i++) await a.authenticate(bearer(await mint(k1, { now, sub: `user-${i}` })));
    expect(jwks.fetches - before).toBe(1);
  });

  it('refetches on an unknown kid, at most once per cooldown', async () => {
    now = T0;
    jwks.keys = [k1.jwk];
    const a = remote();
    await a.authenticate(bearer(await mint(k1, { now })));
    const before = jwks.fetches;
    jwks.keys = [k1.jwk, k2.jwk]; // rotation: the new key is published
    now += 1000; // within the cooldown: no refetch, so k2 is not known yet
    expect(await rejection(a, bearer(await mint(k2, { now })))).toBe('unknown-key');
    expect(jwks.fetches - before).toBe(0);
    now += 30_000; // past the cooldown
    expect(await rejection(a, bearer(await mint(k2, { now, sub: 'bob' })))).toBe('accepted');
    expect(jwks.fetches - before).toBe(1);
    // A flood of unknown kids right after costs no further fetches.
    for (let i = 0; i < 5; i++) await rejection(a, bearer(await mint({ ...k2, kid: `x${i}` }, { now })));
    expect(jwks.fetches - before).toBe(1);
  });

  it('stops accepting a retired key once the cache is refreshed, cached verifications included', async () => {
    now = T0;
    jwks.keys = [k1.jwk, k2.jwk];
    const a = remote();
    const old = await mint(k1, { now, expiresIn: 3600 });
    expect(await rejection(a, bearer(old))).toBe('accepted');
    jwks.keys = [k2.jwk]; // k1 retired
    now += 60_000;
    expect(await rejection(a, bearer(old))).toBe('accepted'); // still within max age: not refetched yet
    now += 600_000; // past max age: a k2 caller's verification refreshes the keys
    expect(await rejection(a, bearer(await mint(k2, { now })))).toBe('accepted');
    // The remembered verification of the k1 token belongs to the old key set and is void.
    expect(await rejection(a, bearer(old))).toBe('unknown-key');
  });

  it('keeps the keys it has while the issuer is down, and says so in the log', async () => {
    now = T0;
    jwks.keys = [k1.jwk];
    jwks.failing = false;
    const a = remote();
    const token = await mint(k1, { now, expiresIn: 7200 });
    await a.authenticate(bearer(token));
    jwks.failing = true;
    now += 700_000; // past max age; the refresh fails
    logs.length = 0;
    try {
      expect(await rejection(a, bearer(await mint(k1, { now, sub: 'during-outage' })))).toBe('accepted');
      expect(logs.join('\n')).toMatch(/fetching the JWKS of issuer corp failed \(HTTP 503.*keeping the keys/);
    } finally {
      jwks.failing = false;
    }
  });

  it('with no keys at all, an issuer outage is a server error, not a 401', async () => {
    now = T0;
    jwks.failing = true;
    try {
      const a = remote();
      await expect(a.authenticate(bearer(await mint(k1, { now })))).rejects.toBeInstanceOf(
        KeysUnavailableError,
      );
    } finally {
      jwks.failing = false;
    }
  });
});

describe('a JWKS behind a private CA and a bearer token (the in-cluster set-up)', () => {
  it('trusts the configured CA and sends the token file, read afresh on each fetch', async () => {
    now = T0;
    const seen: Array<string | undefined> = [];
    const server = createServer(
      {
        cert: readFileSync(join(FIXTURES, 'jwks-server.crt')),
        key: readFileSync(join(FIXTURES, 'jwks-server.key')),
      },
      (req, res) => {
        seen.push(req.headers.authorization);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [k1.jwk] }));
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const tokenFile = join(testDataRoot(), `jwks-token-${process.pid}`);
    writeFileSync(tokenFile, 'gateway-sa-token-1\n');
    try {
      const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`;
      const issuer = (ca: string) => `
issuers:
  - name: k8s
    kubernetes: true
    issuer: https://kubernetes.default.svc.cluster.local
    audience: serval
    jwksUrl: ${base}
    jwksCooldownSeconds: 0
    ${ca}
    jwksTokenFile: ${tokenFile}
`;
      const token = await mint(k1, {
        now,
        iss: 'https://kubernetes.default.svc.cluster.local',
        sub: 'system:serviceaccount:media:caller',
        claims: { 'kubernetes.io': { namespace: 'media' } },
      });
      const trusting = authenticator(issuer(`jwksCaFile: ${join(FIXTURES, 'jwks-server.crt')}`));
      expect((await trusting.authenticate(bearer(token))).namespace).toBe('media');
      expect(seen).toEqual(['Bearer gateway-sa-token-1']);
      writeFileSync(tokenFile, 'gateway-sa-token-2\n'); // the kubelet rotated the projected token
      now += 1000;
      await rejection(
        trusting,
        bearer(
          await mint({ ...k1, kid: 'new' }, { now, iss: 'https://kubernetes.default.svc.cluster.local' }),
        ),
      ); // unknown kid: refetch
      expect(seen.at(-1)).toBe('Bearer gateway-sa-token-2');

      const untrusting = authenticator(issuer(''));
      await expect(untrusting.authenticate(bearer(token))).rejects.toBeInstanceOf(KeysUnavailableError);
    } finally {
      server.close();
      rmSync(tokenFile, { force: true });
    }
  });
});
