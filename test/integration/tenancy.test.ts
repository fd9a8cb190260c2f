// Tenant isolation mode (reference §14.6) with real runtimes: environments are keyed by X-Amz-Tenant-Id and
// never serve another tenant (module state and /tmp prove it), the runtime sees the tenant id, and the
// Invoke API answers a missing, malformed or misplaced tenant id with Lambda's error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { type InvokeResponse, inlineNode, startServal, type TestServal } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';

// Module state is per environment; the /tmp file (os.tmpdir(): private to the environment in every
// isolation mode) names the tenant that first wrote it.
const ISOLATED = `
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const environmentId = randomUUID();
const tenantsSeen = new Set();
let invocations = 0;
export const handler = async (event, context) => {
  invocations++;
  tenantsSeen.add(context.tenantId);
  const file = join(tmpdir(), 'tenant.txt');
  let tmpTenant;
  try { tmpTenant = readFileSync(file, 'utf8'); } catch { writeFileSync(file, context.tenantId); tmpTenant = context.tenantId; }
  if (event.holdMs) await new Promise((r) => setTimeout(r, event.holdMs));
  return { environmentId, invocations, tenantId: context.tenantId, tenantsSeen: [...tenantsSeen], tmpTenant };
};
`;
const PY_ISOLATED = `
def handler(event, context):
    return {"tenantId": context.tenant_id}
`;

let serval: TestServal;
let sink: HttpSink;
beforeAll(async () => {
  sink = await startHttpSink();
  serval = await startServal({
    // A loaded machine may take long to start an environment; the test is about which one serves whom.
    config: { maxEnvironmentsPerFunction: 3, environmentStartTimeoutSeconds: 120 },
    functions: [
      inlineNode('isolated', ISOLATED, {
        spec: {
          tenancy: { mode: 'PER_TENANT' },
          async: { destinations: { onSuccess: { http: { url: `${sink.url}/isolated/ok` } } } },
        },
      }),
      {
        name: 'py-isolated',
        runtime: 'python3.12',
        handler: 'index.handler',
        inline: { 'index.py': PY_ISOLATED },
        spec: { tenancy: { mode: 'PER_TENANT' } },
      },
      inlineNode(
        'shared',
        'export const handler = async (e, context) => ({ tenantId: context.tenantId ?? null });',
      ),
    ],
  });
}, 60_000);
afterAll(async () => {
  await serval?.stop();
  await sink?.close();
});

interface Seen {
  environmentId: string;
  invocations: number;
  tenantId: string;
  tenantsSeen: string[];
  tmpTenant: string;
}

const as = (tenant: string, payload: unknown = {}) =>
  serval.invoke('isolated', payload, { 'X-Amz-Tenant-Id': tenant });

function expectRefused(res: InvokeResponse, message: RegExp): void {
  expect(res.status).toBe(400);
  expect(res.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
  expect((res.json() as { message: string }).message).toMatch(message);
}

describe('tenant isolation mode', () => {
  it('the runtime receives the tenant id (Node context.tenantId, Python context.tenant_id)', async () => {
    const node = await as('blue');
    expect(node.status, node.text).toBe(200);
    expect(node.json()).toMatchObject({ tenantId: 'blue', tenantsSeen: ['blue'] });
    const py = await serval.invoke('py-isolated', {}, { 'X-Amz-Tenant-Id': 'org:42/team=a+b@x.y z-1' });
    expect(py.status, py.text).toBe(200);
    expect(py.json()).toEqual({ tenantId: 'org:42/team=a+b@x.y z-1' });
  });

  it('a missing, empty, malformed or over-long tenant id is InvalidParameterValueException', async () => {
    expectRefused(await serval.invoke('isolated', {}), /X-Amz-Tenant-Id is required/);
    expectRefused(await as(''), /X-Amz-Tenant-Id is required/);
    for (const bad of ['semi;colon', 'hash#tag', 'comma,separated', 'ü', 'x'.repeat(257)]) {
      expectRefused(await as(bad), /TenantId: must be 1 to 256 characters/);
    }
    expect((await as('x'.repeat(256))).status).toBe(200);
    // Event and DryRun are checked before anything is accepted.
    expectRefused(
      await serval.invoke('isolated', {}, { 'X-Amz-Invocation-Type': 'Event' }),
      /X-Amz-Tenant-Id is required/,
    );
    expectRefused(
      await serval.invoke('isolated', {}, { 'X-Amz-Invocation-Type': 'DryRun', 'X-Amz-Tenant-Id': 'a#b' }),
      /TenantId: must be/,
    );
  });

  it('a tenant id sent to a function without tenant isolation is refused', async () => {
    expectRefused(
      await serval.invoke('shared', {}, { 'X-Amz-Tenant-Id': 'blue' }),
      /does not use tenant isolation mode/,
    );
    const plain = await serval.invoke('shared', {});
    expect(plain.json()).toEqual({ tenantId: null });
  });

  it('two tenants hammering one function never share an environment; a third tenant starts its own', async () => {
    const hammer = async (tenant: string) => {
      const seen: Seen[] = [];
      // Three callers per tenant at once, so each tenant scales to several environments.
      await Promise.all(
        Array.from({ length: 3 }, async () => {
          for (let i = 0; i < 10; i++) {
            const res = await as(tenant, { holdMs: 5 });
            expect(res.status, res.text).toBe(200);
            seen.push(res.json() as Seen);
          }
        }),
      );
      return seen;
    };
    const [red, green] = await Promise.all([hammer('red'), hammer('green')]);
    for (const [tenant, seen] of [
      ['red', red],
      ['green', green],
    ] as const) {
      expect(seen).toHaveLength(30);
      for (const s of seen) {
        expect(s.tenantId).toBe(tenant);
        expect(s.tenantsSeen).toEqual([tenant]);
        expect(s.tmpTenant).toBe(tenant);
      }
    }
    const redEnvironments = new Set(red.map((s) => s.environmentId));
    const greenEnvironments = new Set(green.map((s) => s.environmentId));
    expect([...redEnvironments].filter((e) => greenEnvironments.has(e))).toEqual([]);
    // Warm reuse still happens within a tenant.
    expect(redEnvironments.size).toBeLessThan(red.length);

    // A third tenant arrives while the others' environments are warm and idle: it gets a cold start.
    const third = await as('violet');
    expect(third.status, third.text).toBe(200);
    const v = third.json() as Seen;
    expect(v).toMatchObject({ invocations: 1, tenantsSeen: ['violet'], tmpTenant: 'violet' });
    expect(redEnvironments.has(v.environmentId) || greenEnvironments.has(v.environmentId)).toBe(false);
    expect(third.logTail).toMatch(/Init Duration/);
  }, 120_000);

  it('an Event invocation keeps its tenant id through the queue', async () => {
    const res = await serval.invoke(
      'isolated',
      { async: true },
      {
        'X-Amz-Invocation-Type': 'Event',
        'X-Amz-Tenant-Id': 'async-tenant',
      },
    );
    expect(res.status).toBe(202);
    const [record] = await sink.waitFor('/isolated/ok');
    const body = JSON.parse(record!.body) as { responsePayload: Seen };
    expect(body.responsePayload).toMatchObject({ tenantId: 'async-tenant', tenantsSeen: ['async-tenant'] });
  });

  it('an event source mapping for a PER_TENANT function is refused by the API', async () => {
    const res = await fetch(`${serval.url}/2015-03-31/event-source-mappings/`, {
      method: 'POST',
      body: JSON.stringify({
        FunctionName: 'isolated',
        EventSourceArn: 'arn:aws:sqs:local:000000000000:q',
      }),
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
    expect(await res.text()).toMatch(/FunctionName: event source mappings are not supported/);
  });

  it('CreateFunction takes TenancyConfig; an update cannot change it', async () => {
    const api = async (method: string, path: string, body: unknown) => {
      const res = await fetch(`${serval.url}${path}`, { method, body: JSON.stringify(body) });
      return { status: res.status, type: res.headers.get('x-amzn-errortype'), body: await res.json() };
    };
    const created = await api('POST', '/2015-03-31/functions', {
      FunctionName: 'api-isolated',
      Runtime: 'nodejs24.x',
      Role: 'arn:aws:iam::123456789012:role/lambda-role',
      Handler: 'index.handler',
      Code: {
        ZipFile: makeZip({
          'index.mjs': 'export const handler = async (e, c) => ({ tenantId: c.tenantId });',
        }).toString('base64'),
      },
      TenancyConfig: { TenantIsolationMode: 'PER_TENANT' },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.TenancyConfig).toEqual({ TenantIsolationMode: 'PER_TENANT' });
    const res = await serval.invoke('api-isolated', {}, { 'X-Amz-Tenant-Id': 'api-tenant' });
    expect(res.json()).toEqual({ tenantId: 'api-tenant' });
    expectRefused(await serval.invoke('api-isolated', {}), /X-Amz-Tenant-Id is required/);
    const changed = await api('PUT', '/2015-03-31/functions/api-isolated/configuration', {
      TenancyConfig: { TenantIsolationMode: null },
    });
    expect(changed.status).toBe(400);
    expect(changed.body.message).toMatch(/TenancyConfig: tenancy cannot be changed/);
    const kept = await api('PUT', '/2015-03-31/functions/api-isolated/configuration', { MemorySize: 256 });
    expect(kept.status, JSON.stringify(kept.body)).toBe(200);
    expect(kept.body).toMatchObject({
      MemorySize: 256,
      TenancyConfig: { TenantIsolationMode: 'PER_TENANT' },
    });
    const url = await api('POST', '/2021-10-31/functions/api-isolated/url', { AuthType: 'NONE' });
    expect(url.status).toBe(400);
    expect(url.type).toBe('InvalidParameterValueException');
  });

  it('metrics carry no tenant label', async () => {
    const text = await (await fetch(serval.metricsUrl!)).text();
    expect(text).toMatch(/serval_environments\{[^}]*function="isolated"/);
    expect(text).not.toMatch(/tenant/i);
    expect(text).not.toMatch(/"(red|green|violet|blue)"/);
  });
});
