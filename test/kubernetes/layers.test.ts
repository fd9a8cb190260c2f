// Layers in a cluster (ADR-46) on a real API server, through the AWS JS SDK: a published layer version is an
// immutable ConfigMap; a function created through the API and one applied with kubectl each run in a pod
// (the stand-in node) and import modules from /opt in layer order; numbers stay unique with two writers and
// are never reused after a delete; oversize and unknown layers are refused in Lambda's words.

import { createHash } from 'node:crypto';
import {
  AddLayerVersionPermissionCommand,
  CreateFunctionCommand,
  DeleteLayerVersionCommand,
  GetFunctionCommand,
  GetLayerVersionCommand,
  GetLayerVersionPolicyCommand,
  LambdaClient,
  ListLayersCommand,
  ListLayerVersionsCommand,
  PublishLayerVersionCommand,
  RemoveLayerVersionPermissionCommand,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ClusterLayerStore } from '../../gateway/src/front-door/control-api/cluster-layers.ts';
import { testDataRoot } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'default';
const ARN = `arn:serval:lambda:local:${NS}:layer`;

/** A scoped package (its `@` is no ConfigMap key), a Python module and an executable for /opt/bin. */
const greetingZip = makeZip({
  'nodejs/node_modules/@serval-test/greet/package.json': '{"name":"@serval-test/greet","main":"index.js"}',
  'nodejs/node_modules/@serval-test/greet/index.js': "exports.greet = (who) => 'hello ' + who;",
  'nodejs/node_modules/@serval-test/greet/from.js': "exports.from = 'greeting';",
  'python/greet_py.py': "def greet(who):\n    return 'py hello ' + who\n",
  'bin/shout': { text: '#!/bin/sh\necho "$1" | tr a-z A-Z\n', mode: 0o755 },
});
/** Replaces one file of the greeting layer when it comes later in a function's list. */
const overrideZip = makeZip({
  'nodejs/node_modules/@serval-test/greet/from.js': "exports.from = 'override';",
});

// Each test builds on the layers the ones before published: a retry would publish again.
describe.skipIf(!rigAvailable)('layers on a cluster', { retry: 0 }, () => {
  let rig: ServalRig;
  let lambda: LambdaClient;
  const json = (args: string[]) => rig.json(args);
  /** The function's first good answer, while its pod starts; the last one tried, if none comes. */
  const answer = async (name: string, payload: unknown = {}) => {
    let last = '';
    return rig
      .until(
        `${name} to answer`,
        async () => {
          const r = await rig.invoke(NS, name, payload);
          last = `${r.status} ${r.error}: ${r.body}`;
          return r.status === 200 && r.error === null ? r : undefined;
        },
        120_000,
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}; last answer ${last}`);
      });
  };
  const refusal = async (promise: Promise<unknown>) => {
    const err = await promise.then(
      () => undefined,
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
    );
    expect(err, 'the call was refused').toBeDefined();
    return { name: err!.name, message: err!.message, status: err!.$metadata?.httpStatusCode };
  };

  beforeAll(async () => {
    rig = await startServalRig([]);
    lambda = new LambdaClient({
      endpoint: rig.gateway.url,
      region: 'local',
      credentials: { accessKeyId: 'serval', secretAccessKey: 'serval' },
      maxAttempts: 1,
    });
  }, 180_000);
  afterAll(async () => {
    lambda?.destroy();
    await rig?.stop();
  });

  it('publishes a layer version as an immutable ConfigMap with Lambda metadata', async () => {
    const published = await lambda.send(
      new PublishLayerVersionCommand({
        LayerName: 'greeting',
        Description: 'greets',
        LicenseInfo: 'MIT',
        CompatibleRuntimes: ['nodejs24.x', 'python3.11'],
        Content: { ZipFile: greetingZip },
      }),
    );
    expect(published).toMatchObject({
      LayerArn: `${ARN}:greeting`,
      LayerVersionArn: `${ARN}:greeting:1`,
      Version: 1,
      Description: 'greets',
      LicenseInfo: 'MIT',
      CompatibleRuntimes: ['nodejs24.x', 'python3.11'],
      Content: {
        CodeSha256: createHash('sha256').update(greetingZip).digest('base64'),
        CodeSize: greetingZip.length,
      },
    });
    expect(Date.parse(published.CreatedDate!)).toBeGreaterThan(0);
    const cms = await json(['get', 'configmaps', '-n', NS, '-l', 'serval.dev/layer-version=1']);
    const cm = cms.items.find(
      (c: any) => JSON.parse(c.metadata.annotations['serval.dev/layer']).name === 'greeting',
    );
    expect(cm.immutable).toBe(true);
    expect(JSON.parse(cm.metadata.annotations['serval.dev/layer'])).toMatchObject({
      name: 'greeting',
      version: 1,
      codeSha256: createHash('sha256').update(greetingZip).digest('hex'),
    });
    const files = JSON.parse(cm.data['serval-layer-files.json']);
    expect(files.map((f: { path: string }) => f.path)).toContain(
      'nodejs/node_modules/@serval-test/greet/index.js',
    );
    expect(files.find((f: { path: string }) => f.path === 'bin/shout').executable).toBe(true);

    const got = await lambda.send(new GetLayerVersionCommand({ LayerName: 'greeting', VersionNumber: 1 }));
    expect(got).toMatchObject({ LayerVersionArn: `${ARN}:greeting:1`, Description: 'greets' });
    const override = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: 'override', Content: { ZipFile: overrideZip } }),
    );
    expect(override.Version).toBe(1);
  }, 60_000);

  it('gives each publish its own number with two writers at once, and never reuses a deleted one', async () => {
    // The gateway and a second writer (another replica's store) race on the same layer.
    const kc = new KubeConfig();
    kc.loadFromFile(rig.cluster.kubeconfigPath);
    const replica = new ClusterLayerStore(kc, testDataRoot());
    const zip = makeZip({ 'nodejs/n.js': 'exports.n = 1;' });
    const meta = {
      namespace: NS,
      name: 'counted',
      description: '',
      compatibleRuntimes: [],
      compatibleArchitectures: [],
    };
    const numbers = await Promise.all([
      ...[1, 2, 3].map(
        async () =>
          (
            await lambda.send(
              new PublishLayerVersionCommand({ LayerName: 'counted', Content: { ZipFile: zip } }),
            )
          ).Version,
      ),
      ...[1, 2, 3].map(async () => (await replica.publish(meta, zip)).version),
    ]);
    expect([...numbers].sort()).toEqual([1, 2, 3, 4, 5, 6]);

    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'counted', VersionNumber: 6 }));
    // Deleting what is not there succeeds, as in Lambda.
    await lambda.send(new DeleteLayerVersionCommand({ LayerName: 'counted', VersionNumber: 6 }));
    expect(
      (await refusal(lambda.send(new GetLayerVersionCommand({ LayerName: 'counted', VersionNumber: 6 }))))
        .name,
    ).toBe('ResourceNotFoundException');
    const next = await lambda.send(
      new PublishLayerVersionCommand({ LayerName: 'counted', Content: { ZipFile: zip } }),
    );
    expect(next.Version).toBe(7);

    const versions = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'counted' }));
    expect(versions.LayerVersions!.map((v) => v.Version)).toEqual([7, 5, 4, 3, 2, 1]);
    const paged = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'counted', MaxItems: 4 }));
    expect(paged.LayerVersions!.map((v) => v.Version)).toEqual([7, 5, 4, 3]);
    const rest = await lambda.send(
      new ListLayerVersionsCommand({ LayerName: 'counted', Marker: paged.NextMarker }),
    );
    expect(rest.LayerVersions!.map((v) => v.Version)).toEqual([2, 1]);
    const layers = await lambda.send(new ListLayersCommand({}));
    const counted = layers.Layers!.find((l) => l.LayerName === 'counted');
    expect(counted).toMatchObject({
      LayerArn: `${ARN}:counted`,
      LatestMatchingVersion: { Version: 7, LayerVersionArn: `${ARN}:counted:7` },
    });
    expect(layers.Layers!.map((l) => l.LayerName)).toEqual(expect.arrayContaining(['greeting', 'override']));
  }, 60_000);

  it('keeps a layer version policy on its ConfigMap', async () => {
    const added = await lambda.send(
      new AddLayerVersionPermissionCommand({
        LayerName: 'greeting',
        VersionNumber: 1,
        StatementId: 'everyone',
        Action: 'lambda:GetLayerVersion',
        Principal: '*',
      }),
    );
    expect(JSON.parse(added.Statement!)).toMatchObject({
      Sid: 'everyone',
      Principal: '*',
      Resource: `${ARN}:greeting:1`,
    });
    const policy = await lambda.send(
      new GetLayerVersionPolicyCommand({ LayerName: 'greeting', VersionNumber: 1 }),
    );
    expect(policy.RevisionId).toBe(added.RevisionId);
    expect(JSON.parse(policy.Policy!).Statement).toHaveLength(1);
    const stale = await refusal(
      lambda.send(
        new AddLayerVersionPermissionCommand({
          LayerName: 'greeting',
          VersionNumber: 1,
          StatementId: 'other',
          Action: 'lambda:GetLayerVersion',
          Principal: '123456789012',
          RevisionId: 'not-the-revision',
        }),
      ),
    );
    expect(stale.name).toBe('PreconditionFailedException');
    await lambda.send(
      new RemoveLayerVersionPermissionCommand({
        LayerName: 'greeting',
        VersionNumber: 1,
        StatementId: 'everyone',
      }),
    );
    const gone = await refusal(
      lambda.send(new GetLayerVersionPolicyCommand({ LayerName: 'greeting', VersionNumber: 1 })),
    );
    expect(gone.name).toBe('ResourceNotFoundException');
  }, 60_000);

  it('runs a function created through the API with its layer in /opt: a module, a tool on PATH', async () => {
    const code = makeZip({
      'index.mjs': [
        "import { createRequire } from 'node:module';",
        "import { execFileSync } from 'node:child_process';",
        'const require = createRequire(import.meta.url);',
        "const { greet } = require('@serval-test/greet');",
        'export const handler = async (e) => ({',
        '  greeting: greet(e.who),',
        "  from: require('@serval-test/greet/from.js').from,",
        "  shout: execFileSync('shout', [e.who]).toString().trim(),",
        '});',
      ].join('\n'),
    });
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'api-layered',
        Runtime: 'nodejs24.x',
        Role: 'arn:aws:iam::123456789012:role/lambda',
        Handler: 'index.handler',
        Code: { ZipFile: code },
        Layers: [`${ARN}:greeting:1`],
        Publish: true,
      }),
    );
    expect(created.Version).toBe('1');
    expect(created.Layers?.map((l) => l.Arn)).toEqual([`${ARN}:greeting:1`]);
    const fn = await json(['get', 'function', 'api-layered', '-n', NS]);
    expect(fn.spec.layers).toEqual([`${ARN}:greeting:1`]);
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: 'api-layered' }));
    expect(got.Configuration?.Layers?.map((l) => l.Arn)).toEqual([`${ARN}:greeting:1`]);
    const out = await answer('api-layered', { who: 'kube' });
    expect(JSON.parse(out.body)).toEqual({ greeting: 'hello kube', from: 'greeting', shout: 'KUBE' });
    const pod = (await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=api-layered'])).items[0];
    const container = pod.spec.containers[0];
    expect(container.volumeMounts.filter((m: any) => m.name === 'layers')).toEqual(
      ['bin', 'nodejs', 'python'].map((e) => ({
        name: 'layers',
        mountPath: `/opt/${e}`,
        subPath: e,
        readOnly: true,
      })),
    );

    // A layer added with UpdateFunctionConfiguration reaches new pods; version 1 keeps the layers it had.
    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'api-layered',
        Layers: [`${ARN}:greeting:1`, `${ARN}:override:1`],
      }),
    );
    expect(updated.Layers?.map((l) => l.Arn)).toEqual([`${ARN}:greeting:1`, `${ARN}:override:1`]);
    const latest = await rig.until(
      '$LATEST with the override layer',
      async () => {
        const r = await rig.invoke(NS, 'api-layered', { who: 'b' });
        return r.status === 200 && JSON.parse(r.body).from === 'override' ? r : undefined;
      },
      120_000,
    );
    expect(JSON.parse(latest.body).greeting).toBe('hello b');
    const v1 = await answer('api-layered:1', { who: 'c' });
    expect(JSON.parse(v1.body)).toEqual({ greeting: 'hello c', from: 'greeting', shout: 'C' });
    const refused = await refusal(
      lambda.send(
        new UpdateFunctionConfigurationCommand({ FunctionName: 'api-layered', Layers: [`${ARN}:missing:2`] }),
      ),
    );
    expect(refused.name).toBe('InvalidParameterValueException');
    expect(refused.message).toContain(`${ARN}:missing:2 does not exist`);
  }, 180_000);

  it('runs a kubectl-applied Function with layers in order, a later one winning, in Node and Python', async () => {
    const layers = [`${ARN}:greeting:1`, `${ARN}:override:1`];
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(
        NS,
        'applied-layered',
        [
          "import { createRequire } from 'node:module';",
          'const require = createRequire(import.meta.url);',
          "export const handler = async () => [require('@serval-test/greet').greet('x'), require('@serval-test/greet/from.js').from];",
        ].join('\n'),
        { layers },
      ),
    );
    const out = await answer('applied-layered');
    expect(JSON.parse(out.body)).toEqual(['hello x', 'override']);
    const flipped = [...layers].reverse();
    await rig.kubectl(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Function',
        metadata: { name: 'python-layered', namespace: NS },
        spec: {
          runtime: 'python3.11',
          handler: 'index.handler',
          code: {
            inline: { 'index.py': 'import greet_py\ndef handler(e, c):\n    return greet_py.greet("py")\n' },
          },
          layers: flipped,
        },
      }),
    );
    const py = await answer('python-layered');
    expect(JSON.parse(py.body)).toBe('py hello py');
  }, 240_000);

  it('refuses an unknown or another namespace layer through the API, naming it', async () => {
    const request = (layer: string) =>
      new CreateFunctionCommand({
        FunctionName: 'no-such-layer',
        Runtime: 'nodejs24.x',
        Role: 'arn:aws:iam::123456789012:role/lambda',
        Handler: 'index.handler',
        Code: { ZipFile: makeZip({ 'index.mjs': 'export const handler = async () => 1;' }) },
        Layers: [layer],
      });
    const six = request(`${ARN}:greeting:1`);
    six.input.Layers = Array.from({ length: 6 }, (_, i) => `${ARN}:counted:${i + 1}`);
    const tooMany = await refusal(lambda.send(six));
    expect(tooMany).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(tooMany.message).toMatch(/Layers/i);
    const unknown = await refusal(lambda.send(request(`${ARN}:missing:1`)));
    expect(unknown).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(unknown.message).toContain(`Layers[0]: layer version ${ARN}:missing:1 does not exist`);
    // A deleted version cannot be added to a new function.
    const deleted = await refusal(lambda.send(request(`${ARN}:counted:6`)));
    expect(deleted.message).toContain(`${ARN}:counted:6 does not exist`);
    const elsewhere = await refusal(lambda.send(request('arn:serval:lambda:local:other:layer:greeting:1')));
    expect(elsewhere.name).toBe('InvalidParameterValueException');
    expect(elsewhere.message).toContain('its own namespace (default)');
    expect((await json(['get', 'functions', '-n', NS])).items.map((f: any) => f.metadata.name)).not.toContain(
      'no-such-layer',
    );
  }, 60_000);

  it('puts an unknown layer of a kubectl Function on its status, and its invocation fails saying so', async () => {
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'missing-layer', 'export const handler = async () => 1;', {
        layers: [`${ARN}:missing:3`],
      }),
    );
    const ready = await rig.until('the LayerNotFound condition', async () => {
      const o = await json(['get', 'function', 'missing-layer', '-n', NS]);
      return o.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
    });
    expect(ready).toMatchObject({ status: 'False', reason: 'LayerNotFound' });
    expect(ready.message).toMatch(/^spec\.layers\[0\]: layer version .*:layer:missing:3 is not published/);
    const r = await rig.invoke(NS, 'missing-layer');
    expect(r.status).not.toBe(200);
    expect(r.body).toContain('missing:3');
    expect((await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=missing-layer'])).items).toEqual(
      [],
    );
  }, 120_000);

  it('refuses a layer too large for a ConfigMap, or one covering the agent, in Lambda words', async () => {
    const big = makeZip({ 'nodejs/blob.bin': { random: 1100 * 1024 } });
    const refused = await refusal(
      lambda.send(new PublishLayerVersionCommand({ LayerName: 'big', Content: { ZipFile: big } })),
    );
    expect(refused).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(refused.message).toMatch(/^Unzipped size must be smaller than \d+ bytes in a cluster/);
    const listed = await lambda.send(new ListLayerVersionsCommand({ LayerName: 'big' }));
    expect(listed.LayerVersions).toEqual([]);
    // /opt/serval is the agent's in a pod.
    const agent = makeZip({ 'serval/runtime-shims/agent/main.ts': 'process.exit(1);' });
    const covering = await refusal(
      lambda.send(new PublishLayerVersionCommand({ LayerName: 'covers-agent', Content: { ZipFile: agent } })),
    );
    expect(covering.name).toBe('InvalidParameterValueException');
    expect(covering.message).toContain('/opt/serval');
  }, 60_000);
});
