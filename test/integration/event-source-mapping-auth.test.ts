// The event source mapping API with auth on, on a real gateway over HTTP: each of Create, List, Get, Update
// and Delete needs its own Lambda action; a token without it is refused AccessDeniedException naming the
// action and resource, and one with it works. Get, Update and Delete act on the mapping's ARN.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwksServer, mint, type SigningKey, signingKey } from '../auth/token-kit.ts';
import { startServal, type TestServal, testDataRoot } from '../support/serval.ts';

const BASE = '/2015-03-31/event-source-mappings/';
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
const OWN_MAPPINGS = 'arn:serval:lambda:*:${serval:PrincipalNamespace}:event-source-mapping:*';

let serval: TestServal;
let issuer: JwksServer;
let key: SigningKey;
const dir = mkdtempSync(join(testDataRoot(), 'esm-auth-'));
const token = (sub: string, groups: string[]) => mint(key, { sub, claims: { tenant: 'default', groups } });

beforeAll(async () => {
  key = await signingKey('esm-1');
  issuer = await new JwksServer().start();
  issuer.keys = [key.jwk];
  const config = join(dir, 'auth.json');
  writeFileSync(
    config,
    JSON.stringify({
      issuers: [
        {
          name: 'corp',
          issuer: 'https://issuer.test',
          audience: 'serval',
          jwksUrl: issuer.url,
          namespace: { claim: 'tenant' },
        },
      ],
      identityPolicies: [
        {
          name: 'invokers',
          namespaces: ['*'],
          statements: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' }],
        },
        {
          name: 'mapping-admins',
          groups: ['corp:mapping-admins'],
          statements: [
            {
              Effect: 'Allow',
              Action: ['lambda:CreateEventSourceMapping', 'lambda:ListEventSourceMappings'],
              Resource: '*',
            },
            {
              Effect: 'Allow',
              Action: [
                'lambda:GetEventSourceMapping',
                'lambda:UpdateEventSourceMapping',
                'lambda:DeleteEventSourceMapping',
              ],
              Resource: OWN_MAPPINGS,
            },
          ],
        },
        {
          name: 'mapping-readers',
          groups: ['corp:mapping-readers'],
          statements: [
            { Effect: 'Allow', Action: 'lambda:ListEventSourceMappings', Resource: '*' },
            { Effect: 'Allow', Action: 'lambda:GetEventSourceMapping', Resource: OWN_MAPPINGS },
          ],
        },
      ],
    }),
  );
  serval = await startServal({
    env: { SERVAL_AUTH_CONFIG: config },
    functions: [
      {
        name: 'worker',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: { 'index.mjs': 'export const handler = async () => ({});' },
      },
    ],
  });
});
afterAll(async () => {
  await serval?.stop();
  await issuer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, path: string, bearer: string | undefined, body?: unknown) {
  const res = await fetch(`${serval.url}${path}`, {
    method,
    headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), text };
}

// A NATS source on a closed port: the mapping is created and reports the broker unreachable.
const CREATE = {
  FunctionName: 'worker',
  EventSourceArn: 'nats://127.0.0.1:1',
  Topics: ['orders.>'],
};

describe('the event source mapping API with auth on', () => {
  it('refuses every operation to a token without its action, naming action and resource', async () => {
    const bob = await token('bob', []);
    const admin = await token('ann', ['mapping-admins']);
    const made = await call('POST', BASE, admin, CREATE);
    expect(made.status).toBe(202);
    const uuid = (JSON.parse(made.text) as { UUID: string }).UUID;
    const arn = `arn:serval:lambda:local:default:event-source-mapping:${uuid}`;
    const cases: Array<[string, string, string, string, unknown?]> = [
      ['POST', BASE, 'lambda:CreateEventSourceMapping', '*', { ...CREATE, Topics: ['other.>'] }],
      ['GET', BASE, 'lambda:ListEventSourceMappings', '*'],
      ['GET', `${BASE}${uuid}`, 'lambda:GetEventSourceMapping', arn],
      ['PUT', `${BASE}${uuid}`, 'lambda:UpdateEventSourceMapping', arn, { BatchSize: 5 }],
      ['DELETE', `${BASE}${uuid}`, 'lambda:DeleteEventSourceMapping', arn],
    ];
    for (const [method, path, action, resource, body] of cases) {
      const refused = await call(method, path, bob, body);
      expect(refused.status, `${method} ${path}`).toBe(403);
      expect(refused.type).toMatch(/^AccessDeniedException/);
      expect(refused.text).toContain(`${action} on resource: ${resource}`);
      expect((await call(method, path, undefined, body)).status, `${method} ${path} anonymous`).toBe(401);
    }
    // Nothing bob tried took effect.
    const listed = JSON.parse((await call('GET', BASE, admin)).text) as { EventSourceMappings: unknown[] };
    expect(listed.EventSourceMappings).toHaveLength(1);
    expect((await call('DELETE', `${BASE}${uuid}`, admin)).status).toBe(202);
  });

  it('lets a token with the actions create, list, get, update and delete', async () => {
    const admin = await token('ann', ['mapping-admins']);
    const made = await call('POST', BASE, admin, { ...CREATE, Topics: ['admin.>'] });
    expect(made.status).toBe(202);
    const uuid = (JSON.parse(made.text) as { UUID: string }).UUID;
    const listed = JSON.parse((await call('GET', `${BASE}?FunctionName=worker`, admin)).text) as {
      EventSourceMappings: Array<{ UUID: string }>;
    };
    expect(listed.EventSourceMappings.map((m) => m.UUID)).toContain(uuid);
    expect((await call('GET', `${BASE}${uuid}`, admin)).status).toBe(200);
    const updated = await call('PUT', `${BASE}${uuid}`, admin, { BatchSize: 5 });
    expect(updated.status).toBe(202);
    expect(JSON.parse(updated.text)).toMatchObject({ UUID: uuid, BatchSize: 5 });
    expect((await call('DELETE', `${BASE}${uuid}`, admin)).status).toBe(202);
    expect((await call('GET', `${BASE}${uuid}`, admin)).status).toBe(404);
  });

  it('grants actions one by one: a reader may list and get, not update or delete', async () => {
    const admin = await token('ann', ['mapping-admins']);
    const reader = await token('rita', ['mapping-readers']);
    const made = await call('POST', BASE, admin, { ...CREATE, Topics: ['read.>'] });
    const uuid = (JSON.parse(made.text) as { UUID: string }).UUID;
    expect((await call('GET', BASE, reader)).status).toBe(200);
    expect((await call('GET', `${BASE}${uuid}`, reader)).status).toBe(200);
    expect((await call('POST', BASE, reader, { ...CREATE, Topics: ['r2.>'] })).status).toBe(403);
    expect((await call('PUT', `${BASE}${uuid}`, reader, { BatchSize: 2 })).status).toBe(403);
    const refused = await call('DELETE', `${BASE}${uuid}`, reader);
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('lambda:DeleteEventSourceMapping');
    expect((await call('GET', `${BASE}${uuid}`, reader)).status).toBe(200);
    expect((await call('DELETE', `${BASE}${uuid}`, admin)).status).toBe(202);
  });
});
