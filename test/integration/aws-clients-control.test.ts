// Acceptance: the unmodified AWS CLI v1 and boto3 (both from PyPI) deploy and manage functions on the
// gateway as they would on Lambda, with only --endpoint-url / endpoint_url changed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aws, awsCliAvailable } from '../support/aws-cli.ts';
import { boto3Available, runBoto3, shapeCheckedScript } from '../support/boto3.ts';
import { startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';

const ROLE = 'arn:aws:iam::123456789012:role/lambda-role';
let serval: TestServal;
let work: string;
const file = (name: string, data: Buffer) => {
  const path = join(work, name);
  writeFileSync(path, data);
  return path;
};

beforeAll(async () => {
  work = mkdtempSync(join(testDataRoot(), 'aws-clients-'));
  serval = await startServal({});
}, 60_000);
afterAll(async () => {
  await serval?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!awsCliAvailable)('the AWS CLI v1', () => {
  const lambda = async (...args: string[]) => {
    const res = await aws(['lambda', ...args, '--endpoint-url', serval.url, '--output', 'json']);
    if (res.code !== 0) throw new Error(`aws lambda ${args[0]} failed (${res.code}): ${res.stderr}`);
    return res.stdout.trim() ? (JSON.parse(res.stdout) as Record<string, any>) : {};
  };
  const failing = async (...args: string[]) => {
    const res = await aws(['lambda', ...args, '--endpoint-url', serval.url]);
    expect(res.code).not.toBe(0);
    return res.stderr;
  };
  const createArgs = (name: string, runtime: string, handler: string, zip: string) => [
    'create-function',
    ...['--function-name', name, '--runtime', runtime, '--handler', handler],
    ...['--role', ROLE, '--zip-file', `fileb://${zip}`],
  ];
  const invoke = async (name: string, payload: unknown) => {
    const out = join(work, `${name}-out.json`);
    const res = await lambda('invoke', '--function-name', name, '--payload', JSON.stringify(payload), out);
    expect(res).toMatchObject({ StatusCode: 200, ExecutedVersion: '$LATEST' });
    return JSON.parse(readFileSync(out, 'utf8'));
  };

  it('creates, runs, updates, lists, configures and deletes functions', async () => {
    const nodeZip = file(
      'cli-node.zip',
      makeZip({ 'index.mjs': `export const handler = async (event) => ({ v: 1, event });\n` }),
    );
    const created = await lambda(...createArgs('cli-node', 'nodejs24.x', 'index.handler', nodeZip));
    expect(created).toMatchObject({ FunctionName: 'cli-node', Runtime: 'nodejs24.x', State: 'Active' });
    expect(await failing(...createArgs('cli-node', 'nodejs24.x', 'index.handler', nodeZip))).toMatch(
      /ResourceConflictException/,
    );
    const pyZip = file(
      'cli-py.zip',
      makeZip({ 'app.py': `def handler(event, context):\n    return {'py': event}\n` }),
    );
    await lambda(...createArgs('cli-python', 'python3.11', 'app.handler', pyZip));
    expect(await invoke('cli-node', { a: 1 })).toEqual({ v: 1, event: { a: 1 } });
    expect(await invoke('cli-python', { b: 2 })).toEqual({ py: { b: 2 } });

    const v2 = file(
      'cli-node-2.zip',
      makeZip({
        'index.mjs': `export const handler = async (event) => ({ v: 2, env: process.env.STAGE, event });\n`,
      }),
    );
    const code = await lambda(
      'update-function-code',
      '--function-name',
      'cli-node',
      '--zip-file',
      `fileb://${v2}`,
    );
    expect(code.CodeSha256).not.toBe(created.CodeSha256);
    await lambda(
      'update-function-configuration',
      '--function-name',
      'cli-node',
      '--timeout',
      '10',
      '--environment',
      'Variables={STAGE=test}',
    );
    expect(await invoke('cli-node', {})).toEqual({ v: 2, env: 'test', event: {} });
    expect((await lambda('get-function', '--function-name', 'cli-node')).Configuration).toMatchObject({
      Timeout: 10,
      Environment: { Variables: { STAGE: 'test' } },
    });
    expect(await lambda('get-function-configuration', '--function-name', 'cli-node')).toMatchObject({
      Timeout: 10,
    });
    // --page-size 1: the CLI's paginator asks for one function at a time and follows NextMarker.
    const listed = await lambda('list-functions', '--page-size', '1');
    expect(listed.Functions.map((f: { FunctionName: string }) => f.FunctionName)).toEqual([
      'cli-node',
      'cli-python',
    ]);

    expect(
      await lambda(
        'put-function-concurrency',
        '--function-name',
        'cli-node',
        '--reserved-concurrent-executions',
        '2',
      ),
    ).toEqual({ ReservedConcurrentExecutions: 2 });
    expect(await lambda('get-function-concurrency', '--function-name', 'cli-node')).toEqual({
      ReservedConcurrentExecutions: 2,
    });

    const url = await lambda(
      'create-function-url-config',
      '--function-name',
      'cli-node',
      '--auth-type',
      'NONE',
    );
    expect(url).toMatchObject({ AuthType: 'NONE', FunctionArn: created.FunctionArn, InvokeMode: 'BUFFERED' });
    const viaUrl = await fetch(`${url.FunctionUrl}hello`);
    expect(((await viaUrl.json()) as { event: { rawPath: string } }).event.rawPath).toBe('/hello');
    expect((await lambda('get-function-url-config', '--function-name', 'cli-node')).FunctionUrl).toBe(
      url.FunctionUrl,
    );

    const added = await lambda(
      'add-permission',
      '--function-name',
      'cli-node',
      '--statement-id',
      'ops',
      '--action',
      'lambda:InvokeFunction',
      '--principal',
      'ops',
    );
    expect(JSON.parse(added.Statement)).toMatchObject({
      Sid: 'ops',
      Effect: 'Allow',
      Action: 'lambda:InvokeFunction',
    });
    expect(
      JSON.parse((await lambda('get-policy', '--function-name', 'cli-node')).Policy).Statement,
    ).toHaveLength(1);
    await lambda('remove-permission', '--function-name', 'cli-node', '--statement-id', 'ops');
    expect(await failing('get-policy', '--function-name', 'cli-node')).toMatch(/ResourceNotFoundException/);

    const layerZip = file(
      'cli-layer.zip',
      makeZip({ 'nodejs/node_modules/shout/index.js': `module.exports = (s) => s.toUpperCase() + '!';\n` }),
    );
    const layer = await lambda(
      'publish-layer-version',
      '--layer-name',
      'shout',
      '--zip-file',
      `fileb://${layerZip}`,
      '--compatible-runtimes',
      'nodejs24.x',
    );
    expect(layer).toMatchObject({
      Version: 1,
      LayerVersionArn: 'arn:serval:lambda:local:default:layer:shout:1',
    });
    const layered = file(
      'cli-layered.zip',
      makeZip({
        'index.mjs': `import { createRequire } from 'node:module';\nconst shout = createRequire(import.meta.url)('shout');\nexport const handler = async () => shout('layers');\n`,
      }),
    );
    await lambda('update-function-code', '--function-name', 'cli-node', '--zip-file', `fileb://${layered}`);
    const withLayer = await lambda(
      'update-function-configuration',
      '--function-name',
      'cli-node',
      '--layers',
      layer.LayerVersionArn,
    );
    expect(withLayer.Layers).toEqual([{ Arn: layer.LayerVersionArn, CodeSize: expect.any(Number) }]);
    expect(await invoke('cli-node', {})).toBe('LAYERS!');

    await lambda('delete-function', '--function-name', 'cli-node');
    await lambda('delete-function', '--function-name', 'cli-python');
    expect(await failing('get-function', '--function-name', 'cli-node')).toMatch(/ResourceNotFoundException/);
    expect((await lambda('list-functions')).Functions).toEqual([]);
  }, 480_000);
});

describe.skipIf(!boto3Available)('boto3', () => {
  it('runs a deployment script whose every response matches the shape in AWS’s Lambda model', async () => {
    const nodeZip = file(
      'boto-node.zip',
      makeZip({
        'index.mjs': `export const handler = async (event) => ({ greeting: process.env.GREETING, event });\n`,
      }),
    );
    const pythonZip = file(
      'boto-python.zip',
      makeZip({
        'app.py': `def handler(event, context):\n    return {'python': event}\n`,
        'layered.py': `import greeter\n\ndef handler(event, context):\n    return greeter.greet('python')\n`,
      }),
    );
    const layerZip = file(
      'boto-layer.zip',
      makeZip({
        'python/greeter.py': `def greet(name):\n    return 'hello ' + name + ' from a layer'\n`,
      }),
    );
    const res = await runBoto3(shapeCheckedScript('boto3_flow.py'), {
      ENDPOINT: serval.url,
      NODE_ZIP: nodeZip,
      PYTHON_ZIP: pythonZip,
      LAYER_ZIP: layerZip,
    });
    expect(res.stderr + res.stdout).toMatch(/^ok: \d+ operations, every response in AWS shape$/m);
    expect(res.code).toBe(0);
  }, 480_000);
});
