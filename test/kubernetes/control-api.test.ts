// The control-plane API in cluster mode on a real API server: one Function applied with kubectl is returned
// by GetFunction and ListFunctions; one created from a zip through the API is a Function resource kubectl
// sees, whose code reaches a pod (the stand-in node runs it), and updates, versions, aliases and deletes go
// through the resources with the API server's optimistic concurrency (ADR-39).
// The setting operations are control-api-settings.test.ts.

import { createHash } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ApiError } from '../../apis/errors.ts';
import { FunctionRegistry } from '../../gateway/src/registry/function-registry.ts';
import { KubernetesCatalog } from '../../gateway/src/registry/kubernetes-catalog.ts';
import { KubernetesWrites } from '../../gateway/src/registry/kubernetes-writes.ts';
import { makeZip } from '../support/zip.ts';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'default';

describe.skipIf(!rigAvailable)('the control-plane API on a cluster', () => {
  let rig: ServalRig;
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${rig.gateway.url}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return {
      status: res.status,
      type: res.headers.get('x-amzn-errortype'),
      body: ((text) => (text ? JSON.parse(text) : {}))(await res.text()) as Record<string, any>,
    };
  };

  /** The function's first 200 answer whose body `accept`s, while its pod starts. */
  const answer = (name: string, payload: unknown = {}, accept = (_body: string) => true) =>
    rig.until(
      `${name} to answer`,
      async () => {
        const r = await rig.invoke(NS, name, payload);
        return r.status === 200 && accept(r.body) ? r : undefined;
      },
      120_000,
    );

  beforeAll(async () => {
    rig = await startServalRig([]);
  }, 180_000);
  afterAll(async () => {
    await rig?.stop();
  });

  it('returns a Function applied with kubectl from GetFunction and ListFunctions', async () => {
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'applied', 'export const handler = async () => "hi";', {
        timeoutSeconds: 12,
        environment: { STAGE: 'cluster' },
      }),
    );
    const got = await rig.until('GetFunction to find the Function', async () => {
      const res = await api('GET', '/2015-03-31/functions/applied');
      return res.status === 200 && res.body.Configuration.CodeSha256 !== '' ? res : undefined;
    });
    expect(got.body.Configuration).toMatchObject({
      FunctionName: 'applied',
      FunctionArn: 'arn:serval:lambda:local:default:function:applied',
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      Timeout: 12,
      Environment: { Variables: { STAGE: 'cluster' } },
      State: 'Active',
      PackageType: 'Zip',
    });
    const listed = await api('GET', '/2015-03-31/functions/');
    expect(listed.body.Functions.map((f: { FunctionName: string }) => f.FunctionName)).toContain('applied');
  }, 120_000);

  it('creates a function from a zip as a Function resource kubectl sees, which runs in a pod', async () => {
    const zip = makeZip({
      'index.mjs':
        "import { greet } from './lib/greet.mjs';\nexport const handler = async (e) => greet(e.who);",
      'lib/greet.mjs': "export const greet = (who) => 'hello ' + who + ' from ' + process.env.STAGE;",
    });
    const request = {
      FunctionName: 'from-api',
      Runtime: 'nodejs24.x',
      Role: 'arn:aws:iam::123456789012:role/lambda',
      Handler: 'index.handler',
      Code: { ZipFile: zip.toString('base64') },
      Environment: { Variables: { STAGE: 'v1' } },
      Tags: { team: 'orders' },
    };
    const created = await api('POST', '/2015-03-31/functions', request);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      FunctionName: 'from-api',
      Role: 'arn:aws:iam::123456789012:role/lambda',
      CodeSha256: createHash('sha256').update(zip).digest('base64'),
      CodeSize: zip.length,
      Version: '$LATEST',
    });
    const fn = await rig.json(['get', 'function', 'from-api', '-n', NS]);
    expect(fn.spec).toMatchObject({ runtime: 'nodejs24.x', handler: 'index.handler' });
    expect(fn.spec.environment).toEqual({ STAGE: 'v1' });
    const cm = await rig.json(['get', 'configmap', fn.spec.code.configMap.name, '-n', NS]);
    expect(Object.keys(cm.data).sort()).toEqual(['index.mjs', 'lib__greet.mjs']);
    expect(cm.metadata.ownerReferences[0]).toMatchObject({ kind: 'Function', uid: fn.metadata.uid });
    const got = await api('GET', '/2015-03-31/functions/from-api');
    expect(got.body.Tags).toEqual({ team: 'orders' });
    const tags = await api('GET', `/2017-03-31/tags/${encodeURIComponent(created.body.FunctionArn)}`);
    expect(tags.body).toEqual({ Tags: { team: 'orders' } });
    expect(got.body.Configuration.RevisionId).toBe(created.body.RevisionId);
    const out = await answer('from-api', { who: 'kube' });
    expect(JSON.parse(out.body)).toBe('hello kube from v1');
    const again = await api('POST', '/2015-03-31/functions', request);
    expect(again.type).toBe('ResourceConflictException');
  }, 180_000);

  it('updates configuration and code through the resource, refusing a stale RevisionId', async () => {
    const before = await api('GET', '/2015-03-31/functions/from-api/configuration');
    const updated = await api('PUT', '/2015-03-31/functions/from-api/configuration', {
      Timeout: 30,
      Environment: { Variables: { STAGE: 'v2' } },
      RevisionId: before.body.RevisionId,
    });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ Timeout: 30, Environment: { Variables: { STAGE: 'v2' } } });
    expect(updated.body.RevisionId).not.toBe(before.body.RevisionId);
    expect((await rig.json(['get', 'function', 'from-api', '-n', NS])).spec.timeoutSeconds).toBe(30);
    const stale = await api('PUT', '/2015-03-31/functions/from-api/configuration', {
      Timeout: 40,
      RevisionId: before.body.RevisionId,
    });
    expect(stale.type).toBe('PreconditionFailedException');
    const bad = await api('PUT', '/2015-03-31/functions/from-api/configuration', { MemorySize: 1 });
    expect(bad.type).toBe('InvalidParameterValueException');
    expect(bad.body.message).toMatch(/^MemorySize: /);

    const oldConfigMap = (await rig.json(['get', 'function', 'from-api', '-n', NS])).spec.code.configMap.name;
    const zip = makeZip({ 'index.mjs': "export const handler = async () => 'v2 ' + process.env.STAGE;" });
    const code = await api('PUT', '/2015-03-31/functions/from-api/code', { ZipFile: zip.toString('base64') });
    expect(code.status).toBe(200);
    expect(code.body.CodeSha256).toBe(createHash('sha256').update(zip).digest('base64'));
    const out = await answer('from-api', {}, (body) => body.startsWith('"v2 '));
    expect(JSON.parse(out.body)).toBe('v2 v2');
    const gone = await rig.cluster.kubectl(['get', 'configmap', oldConfigMap, '-n', NS]);
    expect(gone.stderr).toMatch(/NotFound/);
  }, 240_000);

  it('maps a write over a changed resourceVersion to ResourceConflictException', async () => {
    const admin = new KubeConfig();
    admin.loadFromString(rig.cluster.kubeconfig);
    const registry = new FunctionRegistry();
    const writes = new KubernetesWrites(admin, new KubernetesCatalog(admin, registry, () => {}));
    const read = (await writes.getFunction(NS, 'from-api'))!;
    await rig.kubectl(['annotate', 'function', 'from-api', '-n', NS, 'touched=yes']);
    const err = await writes
      .replaceFunction({ ...read, spec: { ...read.spec, timeoutSeconds: 50 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).type).toBe('ResourceConflictException');
    expect((await rig.json(['get', 'function', 'from-api', '-n', NS])).spec.timeoutSeconds).toBe(30);
  });

  it('publishes versions and writes aliases as resources', async () => {
    const published = await api('POST', '/2015-03-31/functions/from-api/versions', {});
    expect(published.status).toBe(201);
    expect(published.body.Version).toBe('1');
    const alias = await api('POST', '/2015-03-31/functions/from-api/aliases', {
      Name: 'live',
      FunctionVersion: '1',
    });
    expect(alias.status).toBe(201);
    expect(alias.body).toMatchObject({
      Name: 'live',
      FunctionVersion: '1',
      AliasArn: 'arn:serval:lambda:local:default:function:from-api:live',
    });
    const resource = await rig.json(['get', 'alias', 'from-api-live', '-n', NS]);
    expect(resource.spec).toMatchObject({ functionName: 'from-api', functionVersion: '1', name: 'live' });
    const viaAlias = await answer('from-api:live');
    expect(JSON.parse(viaAlias.body)).toBe('v2 v2');
    const stale = await api('PUT', '/2015-03-31/functions/from-api/aliases/live', {
      Description: 'x',
      RevisionId: 'not-it',
    });
    expect(stale.type).toBe('PreconditionFailedException');
    const described = await api('PUT', '/2015-03-31/functions/from-api/aliases/live', {
      Description: 'production',
    });
    expect(described.body.Description).toBe('production');
    const listed = await api('GET', '/2015-03-31/functions/from-api/aliases');
    expect(listed.body.Aliases.map((a: { Name: string }) => a.Name)).toEqual(['live']);
    const versions = await api('GET', '/2015-03-31/functions/from-api/versions');
    expect(versions.body.Versions.map((v: { Version: string }) => v.Version)).toEqual(['$LATEST', '1']);
    expect((await api('DELETE', '/2015-03-31/functions/from-api/aliases/live')).status).toBe(204);
    expect((await rig.cluster.kubectl(['get', 'alias', 'from-api-live', '-n', NS])).stderr).toMatch(
      /NotFound/,
    );
  }, 240_000);

  it('refuses a zip too large for a ConfigMap, writing nothing', async () => {
    const big = await api('POST', '/2015-03-31/functions', {
      FunctionName: 'too-big',
      Runtime: 'nodejs24.x',
      Role: 'arn:aws:iam::123456789012:role/lambda',
      Handler: 'index.handler',
      Code: {
        ZipFile: makeZip({ 'index.mjs': 'x', 'blob.bin': { random: 1024 * 1024 } }).toString('base64'),
      },
    });
    expect(big.type).toBe('InvalidParameterValueException');
    expect(big.body.message).toMatch(/ConfigMap/);
    expect((await rig.cluster.kubectl(['get', 'function', 'too-big', '-n', NS])).stderr).toMatch(/NotFound/);
  });

  it('deletes a function through the API, and GetFunction then finds nothing', async () => {
    const deleted = await api('DELETE', '/2015-03-31/functions/from-api');
    expect(deleted.status).toBe(204);
    expect((await api('GET', '/2015-03-31/functions/from-api')).type).toBe('ResourceNotFoundException');
    await rig.until(
      'the Function to be gone',
      async () => {
        const r = await rig.cluster.kubectl(['get', 'function', 'from-api', '-n', NS]);
        return /NotFound/.test(r.stderr) || undefined;
      },
      120_000,
    );
    const left = await rig.json(['get', 'configmaps', '-n', NS, '-l', 'serval.dev/api-code=from-api']);
    expect(left.items).toEqual([]);
  }, 180_000);

  it('puts an unpublished layer of spec.layers on the Function status rather than running without it', async () => {
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'layered', 'export const handler = async () => 1;', {
        layers: ['arn:serval:lambda:local:default:layer:tools:1'],
      }),
    );
    const ready = await rig.until('the LayerNotFound condition', async () => {
      const o = await rig.json(['get', 'function', 'layered', '-n', NS]);
      return o.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
    });
    expect(ready).toMatchObject({ status: 'False', reason: 'LayerNotFound' });
    expect(ready.message).toMatch(/^spec\.layers\[0\]: /);
  }, 120_000);

  it('describes an image function as PackageType Image with its ImageConfig, Ready with no code ConfigMap', async () => {
    const uri = 'localhost/thumbs:1';
    await rig.kubectl(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Function',
        metadata: { name: 'imaged', namespace: NS },
        spec: {
          code: { image: { uri } },
          imageConfig: { command: ['app.handler'], workingDirectory: '/srv' },
        },
      }),
    );
    const got = await rig.until('GetFunction to find the image function', async () => {
      const res = await api('GET', '/2015-03-31/functions/imaged');
      return res.status === 200 && res.body.Configuration.CodeSha256 !== '' ? res : undefined;
    });
    expect(got.body.Configuration).toMatchObject({
      FunctionName: 'imaged',
      PackageType: 'Image',
      ImageConfigResponse: { ImageConfig: { Command: ['app.handler'], WorkingDirectory: '/srv' } },
      CodeSha256: createHash('sha256').update(uri).digest('base64'),
    });
    expect(got.body.Configuration.Runtime).toBeUndefined();
    const fn = await rig.until('the image function Ready', async () => {
      const o = await rig.json(['get', 'function', 'imaged', '-n', NS]);
      return o.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')
        ? o
        : undefined;
    });
    expect(fn.status.codeConfigMap).toBeUndefined();
  }, 120_000);
});
