// The control-plane API in cluster mode reads the Function resources on a real API server: one applied
// with kubectl is returned by GetFunction and ListFunctions (with its published version); changes through
// the API are refused, saying that kubectl owns them, and leave the resource as it was.

import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
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
      body: (await res.json()) as Record<string, any>,
    };
  };

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

  it('refuses to create or change a function, leaving the resource as kubectl applied it', async () => {
    const update = await api('PUT', '/2015-03-31/functions/applied/configuration', { Timeout: 30 });
    expect(update.status).toBe(409);
    expect(update.type).toBe('ResourceConflictException');
    expect(update.body.message).toMatch(/kubectl/);
    const create = await api('POST', '/2015-03-31/functions', { FunctionName: 'from-api' });
    expect(create.type).toBe('ResourceConflictException');
    const fn = await rig.json(['get', 'function', 'applied', '-n', NS]);
    expect(fn.spec.timeoutSeconds).toBe(12);
    expect((await api('GET', '/2015-03-31/functions/from-api')).type).toBe('ResourceNotFoundException');
  });

  it('refuses spec.layers in a cluster on the Function status rather than running without them', async () => {
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'layered', 'export const handler = async () => 1;', {
        layers: ['arn:serval:lambda:local:default:layer:tools:1'],
      }),
    );
    const ready = await rig.until('the InvalidSpec condition', async () => {
      const o = await rig.json(['get', 'function', 'layered', '-n', NS]);
      return o.status?.conditions?.find((c: { type: string }) => c.type === 'Ready');
    });
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(ready.message).toMatch(/^spec\.layers: /);
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
