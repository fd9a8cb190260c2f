// Versions are immutable snapshots of code and configuration; aliases route by weight (reference §9).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startServal, type TestServal, testDataRoot } from '../support/serval.ts';

let serval: TestServal;
let codeDir: string;
const writeCode = (label: string) =>
  writeFileSync(join(codeDir, 'index.mjs'), `export const handler = async () => ({ code: '${label}' });\n`);

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${serval.url}/2015-03-31/functions/${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

beforeAll(async () => {
  codeDir = mkdtempSync(join(testDataRoot(), 'versioned-code-'));
  writeCode('A');
  serval = await startServal({
    functions: [{ name: 'versioned', runtime: 'nodejs24.x', handler: 'index.handler', codePath: codeDir }],
  });
});
afterAll(() => serval.stop());

describe('versions', () => {
  it('publishes numbered immutable snapshots; publishing unchanged code returns the existing version', async () => {
    const v1 = await api('POST', 'versioned/versions', {});
    expect(v1).toMatchObject({
      status: 201,
      body: { Version: '1', FunctionArn: 'arn:serval:lambda:local:default:function:versioned:1' },
    });
    expect((await api('POST', 'versioned/versions', {})).body.Version).toBe('1');

    // Version 1's snapshot stays the same whatever happens to the source directory afterwards.
    writeCode('B');
    const one = await serval.invoke('versioned:1', {});
    expect(one.json()).toEqual({ code: 'A' });
    expect(one.headers.get('x-amz-executed-version')).toBe('1');
    const v2 = await api('POST', 'versioned/versions', {});
    expect(v2.body.Version).toBe('2');
    expect((await serval.invoke('versioned:2', {})).json()).toEqual({ code: 'B' });
    expect((await serval.invoke('versioned:1', {})).json()).toEqual({ code: 'A' });
  });

  it('lists $LATEST and the published versions', async () => {
    const list = await api('GET', 'versioned/versions');
    expect((list.body.Versions as Array<{ Version: string }>).map((v) => v.Version)).toEqual([
      '$LATEST',
      '1',
      '2',
    ]);
  });

  it('answers an unpublished version with 404', async () => {
    const res = await serval.invoke('versioned:9', {});
    expect(res.status).toBe(404);
  });
});

describe('aliases', () => {
  it('creates an alias on a version and invokes through it', async () => {
    const created = await api('POST', 'versioned/aliases', { Name: 'live', FunctionVersion: '1' });
    expect(created).toMatchObject({
      status: 201,
      body: {
        Name: 'live',
        FunctionVersion: '1',
        AliasArn: 'arn:serval:lambda:local:default:function:versioned:live',
      },
    });
    const res = await serval.invoke('versioned:live', {});
    expect(res.headers.get('x-amz-executed-version')).toBe('1');
    expect(res.json()).toEqual({ code: 'A' });
    expect((await api('POST', 'versioned/aliases', { Name: 'live', FunctionVersion: '1' })).type).toBe(
      'ResourceConflictException',
    );
  });

  it('leaves RoutingConfig out when no version takes a share, as Lambda does', async () => {
    // OpenTofu's AWS provider sends an empty RoutingConfig on every create: echoing it back made it plan a
    // change to the alias forever.
    const created = await api('POST', 'versioned/aliases', {
      Name: 'plain',
      FunctionVersion: '1',
      RoutingConfig: {},
    });
    expect(created.status).toBe(201);
    expect(created.body).not.toHaveProperty('RoutingConfig');
    const read = await api('GET', 'versioned/aliases/plain');
    expect(read.body).not.toHaveProperty('RoutingConfig');
  });

  it('refuses an alias that points to an alias, or to a version that does not exist', async () => {
    expect((await api('POST', 'versioned/aliases', { Name: 'other', FunctionVersion: 'live' })).type).toBe(
      'InvalidParameterValueException',
    );
    expect((await api('POST', 'versioned/aliases', { Name: 'other', FunctionVersion: '7' })).type).toBe(
      'ResourceNotFoundException',
    );
  });

  it('routes by weight: at 0.1 the additional version serves 10 % ± 2 % of 2,000 invocations', async () => {
    const v2 = '2';
    const updated = await api('PUT', 'versioned/aliases/live', {
      RoutingConfig: { AdditionalVersionWeights: { [v2]: 0.1 } },
    });
    expect(updated.body).toMatchObject({
      FunctionVersion: '1',
      RoutingConfig: { AdditionalVersionWeights: { [v2]: 0.1 } },
    });
    const counts = new Map<string, number>();
    for (let batch = 0; batch < 100; batch++) {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => serval.invoke('versioned:live', {})),
      );
      for (const r of results) {
        const v = r.headers.get('x-amz-executed-version')!;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    }
    const share = (counts.get(v2) ?? 0) / 2000;
    expect(share).toBeGreaterThanOrEqual(0.08);
    expect(share).toBeLessThanOrEqual(0.12);
    expect((counts.get('1') ?? 0) + (counts.get(v2) ?? 0)).toBe(2000);
  }, 120_000);
});

describe('aliases declared in manifests', () => {
  let declared: TestServal;
  const dataDir = mkdtempSync(join(testDataRoot(), 'alias-data-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const fn = {
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'Function',
    metadata: { name: 'weighted' },
    spec: {
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      code: { inline: { 'index.mjs': 'export const handler = async () => ({ ok: true });\n' } },
    },
  };
  const alias = (name: string, weights?: Record<string, number>) => ({
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'Alias',
    metadata: { name },
    spec: {
      functionName: 'weighted',
      functionVersion: '1',
      ...(weights ? { routingConfig: { additionalVersionWeights: weights } } : {}),
    },
  });
  const manifestsWith = (docs: unknown[]) => {
    const dir = mkdtempSync(join(testDataRoot(), 'alias-manifests-'));
    writeFileSync(join(dir, 'weighted.yaml'), docs.map((d) => stringify(d)).join('---\n'));
    return dir;
  };

  beforeAll(async () => {
    // Version 1 exists from an earlier run on the same data directory; version 2 was never published.
    const earlier = await startServal({ manifestsDir: manifestsWith([fn]), config: { dataDir } });
    const published = await fetch(`${earlier.url}/2015-03-31/functions/weighted/versions`, {
      method: 'POST',
    });
    expect(published.status).toBe(201);
    await earlier.stop();
    declared = await startServal({
      manifestsDir: manifestsWith([fn, alias('canary', { '2': 0.1 }), alias('stable')]),
      config: { dataDir },
    });
  });
  afterAll(() => declared?.stop());

  it('an alias weighted to an unpublished version is refused at load time, not a 404 for some callers', async () => {
    expect(declared.gatewayLog()).toContainEqual(
      expect.stringMatching(
        /skipped .*weighted\.yaml \(document 2\): alias weighted:canary points to unpublished version\(s\) 2; publish them/,
      ),
    );
    const res = await fetch(`${declared.url}/2015-03-31/functions/weighted/aliases/canary`);
    expect(res.status).toBe(404);
    // The alias beside it, whose target exists, loads.
    const stable = await declared.invoke('weighted:stable', {});
    expect(stable.headers.get('x-amz-executed-version')).toBe('1');
  });
});
