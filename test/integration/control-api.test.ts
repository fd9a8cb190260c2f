// The control-plane API over plain HTTP against a real gateway with real runtimes: functions created from
// zips, their configuration as AWS shapes it, the typed errors for bad input, layers on /opt, and the
// stored functions served again by a gateway started later on the same data directory.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineNode, startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
const NODE_HANDLER = `export const handler = async (event) => ({ echo: event, version: 'one' });\n`;

let serval: TestServal;
let dataDir: string;

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${serval.url}${path}`, {
    method,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    body: (text ? JSON.parse(text) : {}) as Record<string, any>,
  };
}

const create = (name: string, zip: Buffer, more: Record<string, unknown> = {}) =>
  api('POST', '/2015-03-31/functions', {
    FunctionName: name,
    Runtime: 'nodejs24.x',
    Role: ROLE,
    Handler: 'index.handler',
    Code: { ZipFile: zip.toString('base64') },
    ...more,
  });

beforeAll(async () => {
  dataDir = mkdtempSync(join(testDataRoot(), 'control-api-data-'));
  serval = await startServal({
    functions: [inlineNode('from-manifest', 'export const handler = async () => 1;')],
    config: { dataDir, codeStorageLimitBytes: 8 * 1024 * 1024 },
  });
}, 60_000);
afterAll(async () => {
  await serval?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('CreateFunction', () => {
  it('creates a function from a zip, reports it as AWS does, and runs it', async () => {
    const zip = makeZip({ 'index.mjs': NODE_HANDLER });
    const created = await create('zipped', zip, { Environment: { Variables: { GREETING: 'hi' } } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      FunctionName: 'zipped',
      FunctionArn: 'arn:serval:lambda:local:default:function:zipped',
      Runtime: 'nodejs24.x',
      Role: ROLE,
      Handler: 'index.handler',
      CodeSize: zip.length,
      CodeSha256: createHash('sha256').update(zip).digest('base64'),
      Timeout: 3,
      MemorySize: 128,
      Version: '$LATEST',
      Environment: { Variables: { GREETING: 'hi' } },
      State: 'Active',
      LastUpdateStatus: 'Successful',
      PackageType: 'Zip',
      Architectures: ['x86_64'],
      EphemeralStorage: { Size: 512 },
      LoggingConfig: { LogFormat: 'Text' },
    });
    expect(created.body.LastModified).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/);
    expect(created.body.RevisionId).toMatch(/^[0-9a-f-]{36}$/);
    const res = await serval.invoke('zipped', { a: 1 });
    expect(res.json()).toEqual({ echo: { a: 1 }, version: 'one' });
  }, 60_000);

  it('refuses a second function of the same name, and a name a manifest uses', async () => {
    const zip = makeZip({ 'index.mjs': NODE_HANDLER });
    expect((await create('zipped', zip)).type).toBe('ResourceConflictException');
    expect((await create('from-manifest', zip)).type).toBe('ResourceConflictException');
  });

  it.each([
    ['an unknown runtime', { Runtime: 'nodejs99.x' }, /^Runtime: /],
    ['no handler', { Handler: undefined }, /^Handler: /],
    [
      'a reserved variable',
      { Environment: { Variables: { AWS_REGION: 'x' } } },
      /^Environment\.Variables\.AWS_REGION: .*reserved/,
    ],
    [
      'variables over 4 KB',
      { Environment: { Variables: { BIG: 'x'.repeat(4100) } } },
      /^Environment\.Variables: .*4 KB/,
    ],
    ['a memory size out of range', { MemorySize: 64 }, /^MemorySize: /],
    ['no role', { Role: undefined }, /^Role: /],
    ['an image package', { PackageType: 'Image' }, /^PackageType: /],
    ['an upper-case name', { FunctionName: 'Upper' }, /^FunctionName: /],
    [
      'a per-environment concurrency over 1,600',
      {
        CapacityProviderConfig: {
          LambdaManagedInstancesCapacityProviderConfig: { PerExecutionEnvironmentMaxConcurrency: 1601 },
        },
      },
      /^CapacityProviderConfig\.LambdaManagedInstancesCapacityProviderConfig\.PerExecutionEnvironmentMaxConcurrency: Member must have value less than or equal to 1600$/,
    ],
  ])('refuses %s, naming the field', async (_label, more, message) => {
    const res = await create('refused', makeZip({ 'index.mjs': NODE_HANDLER }), more);
    expect(res.status).toBe(400);
    expect(res.type).toBe('InvalidParameterValueException');
    expect(res.body.message).toMatch(message);
    expect((await api('GET', '/2015-03-31/functions/refused')).type).toBe('ResourceNotFoundException');
  });

  it('takes a per-environment concurrency (Lambda Managed Instances) and reports it back', async () => {
    const managed = {
      LambdaManagedInstancesCapacityProviderConfig: { PerExecutionEnvironmentMaxConcurrency: 8 },
    };
    const created = await create('multi-concurrent', makeZip({ 'index.mjs': NODE_HANDLER }), {
      CapacityProviderConfig: managed,
    });
    expect(created.status).toBe(201);
    expect(created.body.CapacityProviderConfig).toEqual(managed);
    const read = await api('GET', '/2015-03-31/functions/multi-concurrent/configuration');
    expect(read.body.CapacityProviderConfig).toEqual(managed);
  });

  it.each([
    ['not a zip', Buffer.from('plain text, no zip'), /Could not unzip/],
    [
      'an entry with ..',
      makeZip({ '../escape.mjs': NODE_HANDLER }),
      /Could not unzip|leaves the package root/,
    ],
    [
      'a link leaving the root',
      makeZip({ 'index.mjs': NODE_HANDLER, passwd: { link: '../../../../etc/passwd' } }),
      /symbolic link/,
    ],
    [
      'an absolute link',
      makeZip({ 'index.mjs': NODE_HANDLER, passwd: { link: '/etc/passwd' } }),
      /symbolic link/,
    ],
    [
      'more than 250 MB unzipped',
      makeZip({ 'index.mjs': NODE_HANDLER, 'zeros.bin': { zeros: 251 * 1024 * 1024 } }),
      /Unzipped size must be smaller than 262144000 bytes/,
    ],
  ])(
    'refuses a package that is %s',
    async (_label, zip, message) => {
      const res = await create('bad-package', zip);
      expect(res.type).toBe('InvalidParameterValueException');
      expect(res.body.message).toMatch(message);
      expect((await api('GET', '/2015-03-31/functions/bad-package')).status).toBe(404);
    },
    60_000,
  );

  it('refuses a link that looks inside but ends outside through another link', async () => {
    // t is lexically x/q, inside; but s really is p at depth one, so s/../../q is above the package.
    const chained = makeZip({
      'index.mjs': NODE_HANDLER,
      'p/keep.txt': 'p',
      'x/y/s': { link: '../../p' },
      'x/y/t': { link: 's/../../q' },
    });
    const res = await create('chained-link', chained);
    expect(res.type).toBe('InvalidParameterValueException');
    expect(res.body.message).toMatch(/^x\/y\/t: symbolic link/);
    const through = makeZip({ 'index.mjs': NODE_HANDLER, d: { link: 'p' }, 'p/a.txt': 'a', 'd/b.txt': 'b' });
    expect((await create('through-link', through)).body.message).toMatch(
      /^d\/b\.txt: path passes through a symbolic link/,
    );
  });

  it('keeps a link that stays inside the package', async () => {
    const zip = makeZip({
      'lib/real.mjs': `export const handler = async () => 'linked';\n`,
      'index.mjs': { link: 'lib/real.mjs' },
    });
    expect((await create('linked', zip)).status).toBe(201);
    expect((await serval.invoke('linked', {})).json()).toBe('linked');
  }, 60_000);

  it('answers a zip over 50 MB with RequestTooLargeException', async () => {
    const res = await create('too-large', makeZip({ 'blob.bin': { random: 50 * 1024 * 1024 + 1024 } }));
    expect(res.status).toBe(413);
    expect(res.type).toBe('RequestTooLargeException');
  }, 120_000);

  it('answers CodeStorageExceededException once the account code storage is full', async () => {
    // This gateway allows 8 MB of packages; random bytes do not compress.
    const first = await create(
      'storage-a',
      makeZip({ 'index.mjs': NODE_HANDLER, 'a.bin': { random: 5 * 1024 * 1024 } }),
    );
    expect(first.status).toBe(201);
    const second = await create(
      'storage-b',
      makeZip({ 'index.mjs': NODE_HANDLER, 'b.bin': { random: 5 * 1024 * 1024 } }),
    );
    expect(second.type).toBe('CodeStorageExceededException');
    expect((await api('DELETE', '/2015-03-31/functions/storage-a')).status).toBe(204);
    const settings = await api('GET', '/2016-08-19/account-settings/');
    expect(settings.body.AccountLimit).toMatchObject({
      TotalCodeSize: 8 * 1024 * 1024,
      CodeSizeZipped: 52428800,
      CodeSizeUnzipped: 262144000,
    });
    expect(settings.body.AccountUsage.TotalCodeSize).toBeLessThan(1024 * 1024);
  }, 60_000);
});

describe('updates', () => {
  it('updates code and configuration, refusing a stale RevisionId', async () => {
    const before = (await api('GET', '/2015-03-31/functions/zipped/configuration')).body;
    const zip = makeZip({ 'index.mjs': NODE_HANDLER.replace("'one'", "'two'") });
    const updated = await api('PUT', '/2015-03-31/functions/zipped/code', {
      ZipFile: zip.toString('base64'),
      RevisionId: before.RevisionId,
    });
    expect(updated.status).toBe(200);
    expect(updated.body.CodeSha256).toBe(createHash('sha256').update(zip).digest('base64'));
    expect(updated.body.RevisionId).not.toBe(before.RevisionId);
    expect((await serval.invoke('zipped', {})).json()).toMatchObject({ version: 'two' });

    const stale = await api('PUT', '/2015-03-31/functions/zipped/configuration', {
      Timeout: 9,
      RevisionId: before.RevisionId,
    });
    expect(stale.status).toBe(412);
    expect(stale.type).toBe('PreconditionFailedException');
    const config = await api('PUT', '/2015-03-31/functions/zipped/configuration', {
      Timeout: 9,
      Description: 'updated',
    });
    expect(config.body).toMatchObject({
      Timeout: 9,
      Description: 'updated',
      Environment: { Variables: { GREETING: 'hi' } },
    });
  }, 60_000);

  it('lets one of two concurrent updates from the same RevisionId win; the other changes nothing', async () => {
    const before = (await api('GET', '/2015-03-31/functions/zipped/configuration')).body;
    const upload = (label: string) =>
      api('PUT', '/2015-03-31/functions/zipped/code', {
        ZipFile: makeZip({ 'index.mjs': NODE_HANDLER.replace("'one'", `'${label}'`) }).toString('base64'),
        RevisionId: before.RevisionId,
      });
    const results = await Promise.all([upload('race-a'), upload('race-b')]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const winner = results.find((r) => r.status === 200)!.body;
    const after = (await api('GET', '/2015-03-31/functions/zipped/configuration')).body;
    expect(after.CodeSha256).toBe(winner.CodeSha256);
    expect(after.RevisionId).toBe(winner.RevisionId);
    // Put version two back for the tests after this one.
    const restored = await api('PUT', '/2015-03-31/functions/zipped/code', {
      ZipFile: makeZip({ 'index.mjs': NODE_HANDLER.replace("'one'", "'two'") }).toString('base64'),
    });
    expect(restored.status).toBe(200);
  }, 60_000);

  it('checks a DryRun package without changing the function', async () => {
    const before = (await api('GET', '/2015-03-31/functions/zipped/configuration')).body;
    const dry = await api('PUT', '/2015-03-31/functions/zipped/code', {
      ZipFile: makeZip({ 'index.mjs': 'export const handler = async () => "dry";' }).toString('base64'),
      DryRun: true,
    });
    expect(dry.status).toBe(200);
    expect(dry.body.CodeSha256).not.toBe(before.CodeSha256);
    const after = (await api('GET', '/2015-03-31/functions/zipped/configuration')).body;
    expect(after.CodeSha256).toBe(before.CodeSha256);
    expect(after.RevisionId).toBe(before.RevisionId);
    const bad = await api('PUT', '/2015-03-31/functions/zipped/code', {
      ZipFile: 'bm90IGEgemlw',
      DryRun: true,
    });
    expect(bad.type).toBe('InvalidParameterValueException');
  });

  it('refuses to change a function a manifest owns, naming the manifest', async () => {
    const res = await api('PUT', '/2015-03-31/functions/from-manifest/configuration', { Timeout: 5 });
    expect(res.type).toBe('ResourceConflictException');
    expect(res.body.message).toMatch(/manifest .*functions\.yaml/);
    // Reading it works like any other function.
    const got = await api('GET', '/2015-03-31/functions/from-manifest');
    expect(got.body.Configuration).toMatchObject({ FunctionName: 'from-manifest', Runtime: 'nodejs24.x' });
  });
});

describe('reading and listing', () => {
  it('lists manifest and API functions together, page by page', async () => {
    const names: string[] = [];
    let marker: string | undefined;
    do {
      const page = await api('GET', `/2015-03-31/functions/?MaxItems=1${marker ? `&Marker=${marker}` : ''}`);
      expect(page.body.Functions).toHaveLength(1);
      names.push(page.body.Functions[0].FunctionName);
      marker = page.body.NextMarker;
    } while (marker);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['from-manifest', 'linked', 'zipped']));
  });

  it('publishes on create and lists every version with FunctionVersion=ALL', async () => {
    const created = await create('published', makeZip({ 'index.mjs': NODE_HANDLER }), { Publish: true });
    expect(created.body.Version).toBe('1');
    const all = await api('GET', '/2015-03-31/functions/?FunctionVersion=ALL');
    const versions = all.body.Functions.filter((f: any) => f.FunctionName === 'published').map(
      (f: any) => f.Version,
    );
    expect(versions).toEqual(['$LATEST', '1']);
    const one = await api('GET', '/2015-03-31/functions/published/configuration?Qualifier=1');
    expect(one.body.FunctionArn).toBe('arn:serval:lambda:local:default:function:published:1');
  }, 60_000);

  it('deletes a version by qualifier, then the function with its aliases', async () => {
    expect((await api('DELETE', '/2015-03-31/functions/published?Qualifier=1')).status).toBe(204);
    expect((await api('GET', '/2015-03-31/functions/published?Qualifier=1')).type).toBe(
      'ResourceNotFoundException',
    );
    expect((await api('DELETE', '/2015-03-31/functions/published')).status).toBe(204);
    expect((await api('GET', '/2015-03-31/functions/published')).type).toBe('ResourceNotFoundException');
    expect((await serval.invoke('published', {})).status).toBe(404);
  });
});

describe('layers', () => {
  it('publishes a layer and runs a Node and a Python function that import from /opt', async () => {
    const layerZip = makeZip({
      'nodejs/node_modules/greeter/index.js': `module.exports = (n) => 'hello ' + n + ' from a layer';\n`,
      'python/greeter.py': `def greet(n):\n    return 'hello ' + n + ' from a layer'\n`,
    });
    const layer = await api('POST', '/2018-10-31/layers/greeter/versions', {
      Content: { ZipFile: layerZip.toString('base64') },
      CompatibleRuntimes: ['nodejs24.x', 'python3.11'],
      Description: 'greets',
    });
    expect(layer.status).toBe(201);
    expect(layer.body).toMatchObject({
      LayerArn: 'arn:serval:lambda:local:default:layer:greeter',
      LayerVersionArn: 'arn:serval:lambda:local:default:layer:greeter:1',
      Version: 1,
      Content: {
        CodeSize: layerZip.length,
        CodeSha256: createHash('sha256').update(layerZip).digest('base64'),
      },
    });
    const arn = layer.body.LayerVersionArn;
    const node = await create(
      'layered-node',
      makeZip({
        'index.mjs': `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\nexport const handler = async () => require('greeter')('node');\n`,
      }),
      { Layers: [arn] },
    );
    expect(node.body.Layers).toEqual([{ Arn: arn, CodeSize: expect.any(Number) }]);
    expect((await serval.invoke('layered-node', {})).json()).toBe('hello node from a layer');
    const python = await create(
      'layered-python',
      makeZip({
        'app.py': `import greeter\ndef handler(event, context):\n    return greeter.greet('python')\n`,
      }),
      { Layers: [arn], Runtime: 'python3.11', Handler: 'app.handler' },
    );
    expect(python.status).toBe(201);
    expect((await serval.invoke('layered-python', {})).json()).toBe('hello python from a layer');
  }, 90_000);

  it('refuses a layer that does not exist and more than five', async () => {
    const zip = makeZip({ 'index.mjs': NODE_HANDLER });
    const missing = await create('no-layer', zip, {
      Layers: ['arn:serval:lambda:local:default:layer:nope:1'],
    });
    expect(missing.body.message).toMatch(/^Layers\[0\]: /);
    const six = Array.from({ length: 6 }, () => 'arn:serval:lambda:local:default:layer:greeter:1');
    expect((await create('six-layers', zip, { Layers: six })).body.message).toMatch(/^Layers: /);
  });
});

describe('layers without a sandbox', () => {
  it('points the search paths at the merged layer directory itself', async () => {
    const plain = await startServal({ config: { localIsolation: 'off' } });
    try {
      const call = async (path: string, body: unknown) =>
        (
          await fetch(`${plain.url}${path}`, { method: 'POST', body: JSON.stringify(body) })
        ).json() as Promise<Record<string, any>>;
      const layer = await call('/2018-10-31/layers/tool/versions', {
        Content: {
          ZipFile: makeZip({
            'bin/layer-tool': { text: '#!/bin/sh\necho tool ran\n', mode: 0o755 },
            'nodejs/node_modules/plain/index.js': 'module.exports = 42;',
          }).toString('base64'),
        },
      });
      await call('/2015-03-31/functions', {
        FunctionName: 'unsandboxed',
        Runtime: 'nodejs24.x',
        Role: ROLE,
        Handler: 'index.handler',
        Layers: [layer.LayerVersionArn],
        Code: {
          ZipFile: makeZip({
            'index.cjs': `const { execFileSync } = require('node:child_process');\nexports.handler = async () => [require('plain'), execFileSync('layer-tool').toString().trim()];\n`,
          }).toString('base64'),
        },
      });
      expect((await plain.invoke('unsandboxed')).json()).toEqual([42, 'tool ran']);
    } finally {
      await plain.stop();
    }
  }, 90_000);
});

describe('after a restart', () => {
  it('serves the functions the API created from the data directory', async () => {
    await serval.stop();
    const layer = 'arn:serval:lambda:local:default:layer:greeter:1';
    serval = await startServal({
      functions: [
        inlineNode('from-manifest', 'export const handler = async () => 1;'),
        // spec.layers in a manifest: the layer published through the API above, and one never published.
        inlineNode(
          'manifest-layered',
          `import { createRequire } from 'node:module';\nexport const handler = async () => createRequire(import.meta.url)('greeter')('manifest');\n`,
          { spec: { layers: [layer] } },
        ),
        inlineNode('manifest-missing-layer', 'export const handler = async () => 1;', {
          spec: { layers: ['arn:serval:lambda:local:default:layer:greeter:9'] },
        }),
      ],
      config: { dataDir },
    });
    expect((await serval.invoke('manifest-layered', {})).json()).toBe('hello manifest from a layer');
    expect(serval.loaded.problems).toEqual([
      expect.objectContaining({
        field: 'spec.layers[0]',
        message: expect.stringMatching(/greeter:9 is not published/),
      }),
    ]);
    const got = await api('GET', '/2015-03-31/functions/zipped');
    expect(got.body.Configuration).toMatchObject({ Timeout: 9, Description: 'updated' });
    expect((await serval.invoke('zipped', { b: 2 })).json()).toEqual({ echo: { b: 2 }, version: 'two' });
    expect((await serval.invoke('layered-node', {})).json()).toBe('hello node from a layer');
  }, 90_000);
});
