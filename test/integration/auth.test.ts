// Auth end to end on a real gateway over HTTP: the Invoke API and function URLs with bearer JWTs and
// IAM-style policies, a hostile-token suite (none may pass, none may leak), JWKS key rotation served by a
// real HTTP issuer, and the loud warning of the embedded default with auth off.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { JwksServer, mint, rawToken, type SigningKey, signingKey, signRaw } from '../auth/token-kit.ts';
import { rawRequest } from '../support/raw-http.ts';
import { fixture, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

const ECHO = { 'index.mjs': 'export const handler = async (event) => event;' };
const inline = (name: string, spec: Record<string, unknown> = {}) => ({
  name,
  runtime: 'nodejs24.x',
  handler: 'index.handler',
  inline: ECHO,
  spec,
});
const urlEcho = (name: string, url: Record<string, unknown>, spec: Record<string, unknown> = {}) => ({
  name,
  runtime: 'nodejs24.x',
  handler: 'index.handler',
  codePath: fixture('node', 'url-echo'),
  spec: { url, ...spec },
});

const ARN = (name: string) => `arn:serval:lambda:local:default:function:${name}`;

let serval: TestServal;
let corp: JwksServer; // the main issuer
let rotating: JwksServer; // the issuer whose key rotates
let corpKey: SigningKey;
let attacker: SigningKey;
let attackerEc: SigningKey;
let rot1: SigningKey;
let rot2: SigningKey;
const dir = mkdtempSync(join(testDataRoot(), 'auth-e2e-'));

const person = (sub: string, tenant: string, groups: string[] = []) => ({ sub, claims: { tenant, groups } });
const alice = person('alice', 'default', ['admins']);
const bob = person('bob', 'default');
const carol = person('carol', 'analytics', ['cross']);
const dave = person('dave', 'analytics');
const erin = person('erin', 'default', ['root']);
const tokenOf = (who: { sub: string; claims: Record<string, unknown> }) => mint(corpKey, who);

beforeAll(async () => {
  [corpKey, attacker, attackerEc, rot1, rot2] = await Promise.all([
    signingKey('corp-1'),
    signingKey('attacker-1'),
    signingKey('corp-1', 'ES256'), // same kid as the real key, wrong type
    signingKey('rot-1'),
    signingKey('rot-2'),
  ]);
  corp = await new JwksServer().start();
  corp.keys = [corpKey.jwk];
  rotating = await new JwksServer().start();
  rotating.keys = [rot1.jwk];
  const config = join(dir, 'auth.json');
  writeFileSync(
    config,
    JSON.stringify({
      issuers: [
        {
          name: 'corp',
          issuer: 'https://issuer.test',
          audience: 'serval',
          jwksUrl: corp.url,
          namespace: { claim: 'tenant' },
        },
        {
          name: 'rotating',
          issuer: 'https://rotating.test',
          audience: 'serval',
          jwksUrl: rotating.url,
          jwksCacheMaxAgeSeconds: 1,
          jwksCooldownSeconds: 0,
          namespace: { fixed: 'default' },
        },
      ],
      identityPolicies: [
        {
          name: 'own-namespace',
          namespaces: ['*'],
          statements: [
            {
              Effect: 'Allow',
              Action: ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'],
              // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
              Resource: 'arn:serval:lambda:*:${serval:PrincipalNamespace}:function:*',
            },
          ],
        },
        {
          name: 'cross-callers',
          groups: ['corp:cross'],
          statements: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: ARN('shared') }],
        },
        {
          name: 'admins',
          groups: ['corp:admins'],
          statements: [{ Effect: 'Allow', Action: 'lambda:*', Resource: '*' }],
        },
        {
          name: 'root',
          groups: ['corp:root'],
          statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        },
      ],
    }),
  );
  serval = await startServal({
    env: { SERVAL_AUTH_CONFIG: config },
    functions: [
      inline('echo'),
      inline('dry'),
      inline('shared', {
        policy: {
          statements: [
            { Effect: 'Allow', Principal: { Serval: 'analytics' }, Action: 'lambda:InvokeFunction' },
          ],
        },
      }),
      inline('locked', {
        policy: {
          statements: [
            {
              Sid: 'only-alice',
              Effect: 'Deny',
              Principal: '*',
              Action: 'lambda:InvokeFunction',
              Condition: { StringNotEquals: { 'jwt:sub': 'alice' } },
            },
          ],
        },
      }),
      urlEcho(
        'public-url',
        {},
        {
          policy: {
            statements: [
              {
                Effect: 'Allow',
                Principal: '*',
                Action: 'lambda:InvokeFunctionUrl',
                Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } },
              },
            ],
          },
        },
      ),
      urlEcho('private-url', {}),
      urlEcho('jwt-url', {
        authType: 'JWT',
        cors: { allowOrigins: ['https://app.example.com'], allowMethods: ['GET'] },
      }),
    ],
  });
});
afterAll(async () => {
  await serval?.stop();
  await corp?.stop();
  await rotating?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const invoke = (name: string, token?: string, headers: Record<string, string> = {}) =>
  serval.invoke(name, { hello: 'world' }, token ? { Authorization: `Bearer ${token}`, ...headers } : headers);
const url = (name: string, path = '/', headers: Array<[string, string]> = [], method = 'GET') =>
  rawRequest(serval.url, `/lambda-url/${functionUrlId('default', name, '$LATEST')}${path}`, {
    headers,
    method,
  });

describe('the Invoke API with auth on', () => {
  it('says at start-up that auth is on, and from where', () => {
    expect(serval.gatewayLog().join('\n')).toMatch(
      /auth: on; bearer JWTs from corp, rotating; 4 identity policies/,
    );
    expect(serval.gatewayLog().join('\n')).not.toMatch(/WARNING/);
  });

  it('answers a call without a token 401 with a Bearer challenge', async () => {
    const res = await invoke('echo');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="serval"');
    expect(res.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(res.json()).toEqual({
      Type: 'User',
      message: expect.stringMatching(/^Missing Authentication Token/),
    });
  });

  it('invokes for a caller of the same namespace that an identity policy allows', async () => {
    const res = await invoke('echo', await tokenOf(bob));
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ hello: 'world' });
  });

  it('refuses a caller of another namespace 403 AccessDeniedException, naming action and resource', async () => {
    const res = await invoke('echo', await tokenOf(dave));
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(res.json()).toEqual({
      Type: 'User',
      Message: `User: serval:corp:dave is not authorized to perform: lambda:InvokeFunction on resource: ${ARN('echo')} because no identity-based or resource-based policy allows the lambda:InvokeFunction action`,
    });
  });

  it('does not tell an unauthorised caller whether a function exists', async () => {
    expect((await invoke('no-such-function', await tokenOf(dave))).status).toBe(403);
    expect((await invoke('no-such-function', await tokenOf(bob))).status).toBe(404);
  });

  it('names the qualified ARN when the call is qualified', async () => {
    const res = await invoke('echo:prod', await tokenOf(dave));
    expect(res.json()).toMatchObject({
      Message: expect.stringContaining(`resource: ${ARN('echo')}:prod because`),
    });
  });

  it('lets a cross-namespace caller in only with both an identity and a resource allow', async () => {
    expect((await invoke('shared', await tokenOf(carol))).status).toBe(200); // group cross + policy
    const res = await invoke('shared', await tokenOf(dave)); // policy only
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ Message: expect.stringContaining('cross-namespace call needs both') });
  });

  it("an explicit deny in the function's policy wins over the identity allow", async () => {
    expect((await invoke('locked', await tokenOf(alice))).status).toBe(200);
    const res = await invoke('locked', await tokenOf(bob));
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({
      Message: expect.stringContaining('explicit deny in a resource-based policy'),
    });
  });

  it('DryRun checks permission without invoking', async () => {
    const allowed = await invoke('dry', await tokenOf(bob), { 'X-Amz-Invocation-Type': 'DryRun' });
    expect(allowed.status).toBe(204);
    const denied = await invoke('dry', await tokenOf(dave), { 'X-Amz-Invocation-Type': 'DryRun' });
    expect(denied.status).toBe(403);
    expect(serval.logs('dry')).toEqual([]); // no environment ever started
  });

  it('refuses an Event invocation before it is queued', async () => {
    const res = await invoke('echo', await tokenOf(dave), { 'X-Amz-Invocation-Type': 'Event' });
    expect(res.status).toBe(403);
  });

  it('guards the control plane: publishing needs lambda:PublishVersion', async () => {
    const publish = async (token?: string) =>
      fetch(`${serval.url}/2015-03-31/functions/echo/versions`, {
        method: 'POST',
        headers: token ? { Authorization: `Bearer ${token}` } : {},
        body: '{}',
      });
    expect((await publish()).status).toBe(401);
    expect((await publish(await tokenOf(bob))).status).toBe(403);
    expect((await publish(await tokenOf(alice))).status).toBe(201); // admins: lambda:*
  });

  it('keeps the operator API closed to callers without a grant', async () => {
    const get = async (path: string, token?: string) =>
      (await fetch(`${serval.url}${path}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} }))
        .status;
    expect(await get('/serval/v1/async/stats')).toBe(401);
    expect(await get('/serval/v1/async/stats', await tokenOf(alice))).toBe(403); // lambda:* is not serval:*
    expect(await get('/serval/v1/async/stats', await tokenOf(erin))).toBe(200);
  });

  it('guards the lifecycle routes with their own Lambda actions, on the function ARN', async () => {
    const call = async (method: string, path: string, token?: string) => {
      const res = await fetch(`${serval.url}${path}`, {
        method,
        headers: token ? { Authorization: `Bearer ${token}` } : {},
      });
      return { status: res.status, body: (await res.json().catch(() => ({}))) as { Message?: string } };
    };
    expect((await call('GET', '/2015-03-31/functions/echo/configuration')).status).toBe(401);
    // bob may invoke echo, nothing more: the message names the operation's own action.
    const denied = await call('GET', '/2015-03-31/functions/echo/configuration', await tokenOf(bob));
    expect(denied.status).toBe(403);
    expect(denied.body.Message).toContain(`lambda:GetFunctionConfiguration on resource: ${ARN('echo')}`);
    const deleting = await call('DELETE', '/2015-03-31/functions/echo', await tokenOf(bob));
    expect(deleting.body.Message).toContain('lambda:DeleteFunction');
    const listing = await call('GET', '/2015-03-31/functions', await tokenOf(bob));
    expect(listing.body.Message).toContain('lambda:ListFunctions on resource: *');
    // admins hold lambda:*, which covers every one of them.
    expect((await call('GET', '/2015-03-31/functions/echo/configuration', await tokenOf(alice))).status).toBe(
      200,
    );
    expect((await call('GET', '/2015-03-31/functions', await tokenOf(alice))).status).toBe(200);
    expect((await call('GET', '/2016-08-19/account-settings', await tokenOf(alice))).status).toBe(200);
  });
});

describe('function URLs with auth on', () => {
  it('NONE: answers anonymous callers when the policy grants "*"', async () => {
    const res = await url('public-url', '/hi');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).requestContext).not.toHaveProperty('authorizer');
  });

  it('NONE: refuses anonymous callers 403 when no policy grants "*"', async () => {
    const res = await url('private-url');
    expect(res.status).toBe(403);
    expect(res.headers['x-amzn-errortype']).toBe('AccessDeniedException');
    expect(JSON.parse(res.body.toString()).Message).toContain(
      `User: anonymous is not authorized to perform: lambda:InvokeFunctionUrl on resource: ${ARN('private-url')}`,
    );
  });

  it('JWT: 401 without a token, and the verified claims reach the function', async () => {
    const none = await url('jwt-url');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="serval"');
    const token = await tokenOf(bob);
    const res = await url('jwt-url', '/me', [['authorization', `Bearer ${token}`]]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString()).requestContext.authorizer).toEqual({
      jwt: {
        claims: expect.objectContaining({ sub: 'bob', tenant: 'default', iss: 'https://issuer.test' }),
        scopes: null,
      },
    });
  });

  it('JWT: a caller of another namespace needs more than a token', async () => {
    const res = await url('jwt-url', '/', [['authorization', `Bearer ${await tokenOf(dave)}`]]);
    expect(res.status).toBe(403);
  });

  it('JWT: CORS preflights are answered without credentials', async () => {
    const res = await url(
      'jwt-url',
      '/',
      [
        ['origin', 'https://app.example.com'],
        ['access-control-request-method', 'GET'],
      ],
      'OPTIONS',
    );
    expect(res.status).toBeLessThan(300);
    expect(res.headers['access-control-allow-origin']).toBe('https://app.example.com');
  });
});

describe('hostile tokens', () => {
  interface Hostile {
    name: string;
    header: string;
    /** Strings that must never show up in a response or a log line. */
    secrets: string[];
  }
  const hostile: Hostile[] = [];

  beforeAll(async () => {
    const now = Math.floor(Date.now() / 1000);
    const add = (name: string, token: string, canary?: string, header = `Bearer ${token}`) =>
      hostile.push({
        name,
        header,
        secrets: [token, ...token.split('.').filter((s) => s.length >= 8), ...(canary ? [canary] : [])],
      });
    const claims = (canary: string, extra: Record<string, unknown> = {}) => ({
      iss: 'https://issuer.test',
      aud: 'serval',
      sub: canary,
      tenant: 'default',
      iat: now,
      exp: now + 300,
      ...extra,
    });
    const c = (n: number) => `canary${n}x${randomBytes(6).toString('hex')}`;
    const cs = Array.from({ length: 30 }, (_, i) => c(i));

    add('alg none, empty signature', rawToken({ alg: 'none', typ: 'JWT' }, claims(cs[0]!)), cs[0]);
    add(
      'alg none with a signature',
      rawToken({ alg: 'none' }, claims(cs[1]!), 'c2lnbmF0dXJlLWJ5dGVz'),
      cs[1],
    );
    add('alg NONE in capitals', rawToken({ alg: 'NONE' }, claims(cs[2]!), 'c2lnbmF0dXJlLWJ5dGVz'), cs[2]);
    add(
      'HS256 keyed with the public key PEM (algorithm confusion)',
      signRaw({ alg: 'HS256', kid: 'corp-1' }, claims(cs[3]!), corpKey.spki),
      cs[3],
    );
    add(
      'HS256 keyed with the public JWK',
      signRaw({ alg: 'HS256', kid: 'corp-1' }, claims(cs[4]!), JSON.stringify(corpKey.jwk)),
      cs[4],
    );
    add(
      'expired',
      await mint(corpKey, { sub: cs[5], claims: { tenant: 'default' }, expiresIn: -3600 }),
      cs[5],
    );
    add(
      'not yet valid',
      await mint(corpKey, { sub: cs[6], claims: { tenant: 'default' }, notBefore: 3600, expiresIn: 7200 }),
      cs[6],
    );
    add(
      'unknown issuer',
      await mint(corpKey, { iss: 'https://evil.test', sub: cs[7], claims: { tenant: 'default' } }),
      cs[7],
    );
    add(
      'wrong audience',
      await mint(corpKey, { aud: 'another-service', sub: cs[8], claims: { tenant: 'default' } }),
      cs[8],
    );
    add('no audience', await mint(corpKey, { aud: null, sub: cs[9], claims: { tenant: 'default' } }), cs[9]);
    add('unknown kid', await mint(attacker, { sub: cs[10], claims: { tenant: 'default' } }), cs[10]);
    add(
      'the right kid, the attacker’s key',
      await mint({ ...attacker, kid: 'corp-1' }, { sub: cs[11], claims: { tenant: 'default' } }),
      cs[11],
    );
    add(
      'ES256 under the RSA key’s kid',
      await mint(attackerEc, { sub: cs[12], claims: { tenant: 'default' } }),
      cs[12],
    );
    const good = await mint(corpKey, { sub: 'mallory', claims: { tenant: 'default' } });
    const [h, , s] = good.split('.');
    add(
      'payload swapped after signing',
      `${h}.${Buffer.from(JSON.stringify(claims(cs[13]!))).toString('base64url')}.${s}`,
      cs[13],
    );
    add(
      'attacker key embedded in the header (jwk)',
      signRaw({ alg: 'RS256', jwk: attacker.jwk }, claims(cs[14]!), attacker.privateKey),
      cs[14],
    );
    add(
      'jku pointing at the attacker’s JWKS',
      signRaw(
        { alg: 'RS256', kid: 'attacker-1', jku: 'http://127.0.0.1:9/jwks.json' },
        claims(cs[15]!),
        attacker.privateKey,
      ),
      cs[15],
    );
    add(
      'an unknown critical header',
      signRaw(
        { alg: 'RS256', kid: 'corp-1', crit: ['x-serval'], 'x-serval': 1 },
        claims(cs[16]!),
        corpKey.privateKey,
      ),
      cs[16],
    );
    add(
      'no exp',
      signRaw({ alg: 'RS256', kid: 'corp-1' }, claims(cs[17]!, { exp: undefined }), corpKey.privateKey),
      cs[17],
    );
    add(
      'no namespace claim',
      signRaw({ alg: 'RS256', kid: 'corp-1' }, claims(cs[18]!, { tenant: undefined }), corpKey.privateKey),
      cs[18],
    );
    add('signature stripped', `${good.split('.').slice(0, 2).join('.')}.`);
    add(
      'header not JSON',
      `${Buffer.from(`{"alg":"RS256",${cs[19]}`).toString('base64url')}.${good.split('.')[1]}.${s}`,
      cs[19],
    );
    add('three garbage segments', `${cs[20]}.${cs[21]}.${cs[22]}`, cs[20]);
    add('one segment', Buffer.from(JSON.stringify(claims(cs[23]!))).toString('base64url'), cs[23]);
    add(
      'over 8 KiB',
      signRaw(
        { alg: 'RS256', kid: 'corp-1' },
        claims(cs[24]!, { pad: 'x'.repeat(9000) }),
        corpKey.privateKey,
      ),
      cs[24],
    );
    const padded = rawToken({ alg: 'RS256' }, claims(cs[25]!), 'AAAA');
    add('two tokens in one header', padded, cs[25], `Bearer ${padded} ${padded}`);
    add('Basic credentials', cs[26]!, cs[26], `Basic ${Buffer.from(`alice:${cs[26]}`).toString('base64')}`);
  });

  it('has at least 15 of them', () => expect(hostile.length).toBeGreaterThanOrEqual(15));

  it('rejects every one with 401 and echoes none of it, on the Invoke API and on a JWT URL', async () => {
    const starts = () => serval.logs('echo').filter((l) => l.startsWith('START')).length;
    const startsBefore = starts();
    for (const t of hostile) {
      const res = await serval.invoke('echo', {}, { Authorization: t.header });
      expect(res.status, t.name).toBe(401);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge, t.name).toMatch(/^Bearer realm="serval"/);
      if (!t.name.startsWith('Basic')) expect(challenge, t.name).toContain('error="invalid_token"');
      const seen = `${res.text}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
      for (const secret of t.secrets)
        expect(seen.includes(secret), `${t.name} leaks into the response`).toBe(false);

      const viaUrl = await url('jwt-url', '/', [['authorization', t.header]]);
      expect(viaUrl.status, t.name).toBe(401);
      const urlSeen = `${viaUrl.body}\n${JSON.stringify(viaUrl.headers)}`;
      for (const secret of t.secrets)
        expect(urlSeen.includes(secret), `${t.name} leaks via the URL`).toBe(false);
    }
    expect(starts()).toBe(startsBefore); // echo ran for none of them
  });

  it('leaves no byte of any of them in the logs', () => {
    const logs = [
      ...serval.gatewayLog(),
      ...['echo', 'jwt-url', 'shared', 'locked', 'public-url'].flatMap((f) => serval.logs(f)),
    ].join('\n');
    // The rejections were logged (so the scan looks at real lines), by reason only.
    expect(logs.match(/auth: 401 /g)?.length ?? 0).toBeGreaterThanOrEqual(15);
    for (const t of hostile) {
      for (const secret of t.secrets)
        expect(logs.includes(secret), `${t.name} leaks into the logs`).toBe(false);
    }
  });
});

describe('JWKS key rotation (a real issuer over HTTP)', () => {
  const rot = (key: SigningKey, sub: string) => mint(key, { iss: 'https://rotating.test', sub });
  const status = async (token: string) => (await invoke('echo', token)).status;

  it('keeps working through a rotation and stops taking the old key once it is retired', async () => {
    const old = await rot(rot1, 'before');
    expect(await status(old)).toBe(200);

    // The issuer publishes its next key next to the current one and starts signing with it.
    rotating.keys = [rot1.jwk, rot2.jwk];
    const fetches = rotating.fetches;
    expect(await status(await rot(rot2, 'after'))).toBe(200); // unknown kid → the gateway refetches
    expect(rotating.fetches).toBeGreaterThan(fetches);
    expect(await status(old)).toBe(200); // both keys are valid during the overlap

    // The old key is retired. Once the cached key set is older than its max age (1 s here), it is gone.
    rotating.keys = [rot2.jwk];
    await new Promise((r) => setTimeout(r, 1200));
    expect(await status(await rot(rot2, 'later'))).toBe(200);
    expect(await status(old)).toBe(401); // verified before, but its key no longer exists
    expect(await status(await rot(rot1, 'fresh-but-old-key'))).toBe(401);
    expect(await status(await rot(rot2, 'still'))).toBe(200);
  });
});

describe('auth off (the embedded default)', () => {
  let open: TestServal;
  beforeAll(async () => {
    open = await startServal({ functions: [inline('echo'), urlEcho('jwt-url', { authType: 'JWT' })] });
  });
  afterAll(() => open?.stop());

  it('warns loudly at start-up, on several lines', () => {
    const warning = open.gatewayLog().filter((l) => l.startsWith('WARNING:'));
    expect(warning.length).toBeGreaterThanOrEqual(4);
    expect(warning.join('\n')).toMatch(
      /authentication is OFF[\s\S]*anyone who can reach http:\/\/127\.0\.0\.1:\d+/,
    );
  });

  it('invokes without a token, and refuses JWT function URLs', async () => {
    expect((await open.invoke('echo', { a: 1 })).status).toBe(200);
    const res = await rawRequest(open.url, `/lambda-url/${functionUrlId('default', 'jwt-url', '$LATEST')}/`);
    expect(res.status).toBe(403);
  });
});
