// Finding 2 (issue #11): with auth on and no token, `/SERVAL/v1/async/stats` and other case variants
// answered 200 — the router matched paths case-insensitively, the guard case-sensitively. Every guarded
// route, in every spelling a client can send, must be refused or unknown; only the exact path works, and
// only with a token.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { mint, type SigningKey, signingKey } from '../auth/token-kit.ts';
import { rawRequest } from '../support/raw-http.ts';
import { inlineNode, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

const dir = mkdtempSync(join(testDataRoot(), 'route-guards-'));
let serval: TestServal;
let key: SigningKey;
let admin: string;

beforeAll(async () => {
  key = await signingKey('k1');
  admin = await mint(key, { sub: 'root', claims: { groups: ['root'] } });
  const config = join(dir, 'auth.json');
  writeFileSync(
    config,
    JSON.stringify({
      issuers: [
        {
          name: 'corp',
          issuer: 'https://issuer.test',
          audience: 'serval',
          staticKeys: [key.spki],
          namespace: { fixed: 'default' },
        },
      ],
      identityPolicies: [
        { groups: ['corp:root'], statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      ],
    }),
  );
  serval = await startServal({
    env: { SERVAL_AUTH_CONFIG: config },
    functions: [
      inlineNode('echo', 'export const handler = async (e) => e;'),
      inlineNode('private-url', 'export const handler = async () => "private";', {
        spec: { url: { authType: 'JWT' } },
      }),
    ],
  });
});
afterAll(async () => {
  await serval.stop();
  rmSync(dir, { recursive: true, force: true });
});

const GUARDED: Array<[string, string, string?]> = [
  ['GET', '/serval/v1/async/stats'],
  ['GET', '/serval/v1/async/dead-letters'],
  ['POST', '/serval/v1/async/dead-letters/redrive', '{}'],
  ['POST', '/serval/v1/async/dead-letters/purge', '{"function":"echo"}'],
  ['GET', '/2015-03-31/functions/echo/versions'],
  ['POST', '/2015-03-31/functions/echo/versions', '{}'],
  ['POST', '/2015-03-31/functions/echo/aliases', '{"Name":"live","FunctionVersion":"$LATEST"}'],
  ['POST', '/2015-03-31/functions/echo/invocations', '{}'],
  ['POST', '/2014-11-13/functions/echo/invoke-async/', '{}'],
  ['GET', `/lambda-url/${functionUrlId('default', 'private-url', '$LATEST')}/x`],
];

/** Spellings of a path that a lenient router or a normalising proxy could take for the same route. */
function variants(path: string): string[] {
  const segments = path.split('/').slice(1);
  const out = new Set<string>([
    path.toUpperCase(),
    path.replace(/[a-z]/, (c) => c.toUpperCase()),
    segments
      .map((s) => s[0]?.toUpperCase() + s.slice(1))
      .join('/')
      .replace(/^/, '/'),
    `${path}/`,
    `${path}//`,
    `/${path}`,
    path.replace('/', '//'),
    path.replace(/\/(?=[^/]*$)/, '//'),
    path.replace(/\/(?=[^/]*$)/, '%2F'),
    path.replace(/\/(?=[^/]*$)/, '%2f'),
    path.replace(/^\/([a-z0-9])/, (_m, c: string) => `/%${c.charCodeAt(0).toString(16)}`),
    path.replace(/\/(?=[^/]*$)/, '/./'),
    path.replace(/\/(?=[^/]*$)/, '/x/../'),
    path.replace(/\/(?=[^/]*$)/, '/%2e/'),
    path.replace(/\/(?=[^/]*$)/, '/%2E%2E/x/'),
    `${path};x`,
    `${path}%00`,
    `${path}?`,
    `${path}#x`,
  ]);
  out.delete(path);
  out.delete(`${path}?`); // the same path with an empty query: the exact route, still guarded below
  return [...out];
}

describe.each(GUARDED)('%s %s', (method, path, body) => {
  it('without a token: refused in the exact spelling', async () => {
    const res = await rawRequest(serval.url, path, { method, body });
    expect(res.status, res.body.toString()).toBe(401);
  });

  it('without a token: no other spelling reaches the route', async () => {
    for (const variant of variants(path)) {
      const res = await rawRequest(serval.url, variant, { method, body });
      expect([401, 403, 404], `${method} ${variant}: ${res.body}`).toContain(res.status);
    }
  });

  it('with a token: the exact spelling is served', async () => {
    const res = await rawRequest(serval.url, path, {
      method,
      body,
      headers: [['Authorization', `Bearer ${admin}`]],
    });
    expect(res.status, res.body.toString()).toBeLessThan(300);
  });
});
