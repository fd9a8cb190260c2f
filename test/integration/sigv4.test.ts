// SigV4 end to end with auth on: keys issued with `serval keys`, the unmodified AWS CLI v1 and the JS SDK
// v3 invoking and publishing with them, altered and stale signatures, revoked and unknown keys, policies,
// a key from a mounted file, keys kept across a restart, and no secret in any log line.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  CreateAliasCommand,
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  InvokeCommand,
  LambdaClient,
  ListVersionsByFunctionCommand,
  PublishVersionCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presignUrl, signHeaders } from '../auth/sigv4-kit.ts';
import { JwksServer, mint, type SigningKey, signingKey, testIssuer } from '../auth/token-kit.ts';
import { aws, awsCliAvailable } from '../support/aws-cli.ts';
import { boto3Available, runBoto3 } from '../support/boto3.ts';
import { runBoto3Flow } from '../support/boto3-flow.ts';
import { REPO_ROOT, startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import { makeZip } from '../support/zip.ts';

const ECHO = { 'index.mjs': 'export const handler = async (event) => ({ got: event });' };
const MOUNTED = {
  accessKeyId: 'AKSVMOUNTEDMOUNTED01',
  secretAccessKey: 'bW91bnRlZC1zZWNyZXQtbW91bnRlZC1zZWNyZXQx',
  namespace: 'default',
  identity: 'mounted',
};
/** The operator's first key, from the file: how a gateway without any token issuer is bootstrapped. */
const BOOTSTRAP = {
  accessKeyId: 'AKSVBOOTSTRAPADMIN01',
  secretAccessKey: 'Ym9vdHN0cmFwLXNlY3JldC1ib290c3RyYXAtc2Vj',
  namespace: 'default',
  identity: 'operator',
  groups: ['admins'],
};

let serval: TestServal;
let corp: JwksServer;
let corpKey: SigningKey;
let adminToken: string;
const dir = mkdtempSync(join(testDataRoot(), 'sigv4-e2e-'));
const dataDir = join(dir, 'data');
const env: NodeJS.ProcessEnv = {};
const clients: LambdaClient[] = [];
/** Every secret the test saw, to look for in the logs at the end. */
const secrets: string[] = [MOUNTED.secretAccessKey, BOOTSTRAP.secretAccessKey];

interface Key {
  accessKeyId: string;
  secretAccessKey: string;
}
let deployer: Key;
let reader: Key;

async function start(): Promise<TestServal> {
  return startServal({
    env,
    config: { dataDir },
    functions: [{ name: 'echo', runtime: 'nodejs24.x', handler: 'index.handler', inline: ECHO }],
  });
}

/** The real `serval` command against the gateway: as the admin (a bearer token), or signing with a key. */
async function serval_(...args: string[]): Promise<string> {
  return servalAs({ SERVAL_TOKEN: adminToken }, ...args);
}

async function servalAs(env: NodeJS.ProcessEnv, ...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(REPO_ROOT, 'bin/serval.mjs'), ...args, '--endpoint', serval.url],
    {
      env: {
        ...process.env,
        SERVAL_TOKEN: '',
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        SERVAL_REGION: 'local',
        ...env,
      },
    },
  );
  return stdout;
}

const signingAs = (key: Key) => ({
  AWS_ACCESS_KEY_ID: key.accessKeyId,
  AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
});

async function createKey(...args: string[]): Promise<Key> {
  const out = await serval_('keys', 'create', ...args);
  const key = {
    accessKeyId: /AccessKeyId +(\S+)/.exec(out)![1]!,
    secretAccessKey: /SecretAccessKey +(\S+)/.exec(out)![1]!,
  };
  secrets.push(key.secretAccessKey);
  return key;
}

function lambda(key: Key): LambdaClient {
  const client = new LambdaClient({
    endpoint: serval.url,
    region: 'local',
    credentials: key,
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

const json = (bytes: Uint8Array | undefined) => JSON.parse(Buffer.from(bytes ?? []).toString('utf8'));

beforeAll(async () => {
  corpKey = await signingKey('corp-1');
  corp = await new JwksServer().start();
  corp.keys = [corpKey.jwk];
  adminToken = await mint(corpKey, { sub: 'root', claims: { tenant: 'default', groups: ['admins'] } });
  const keysFile = join(dir, 'keys.yaml');
  writeFileSync(keysFile, JSON.stringify({ keys: [MOUNTED, BOOTSTRAP] }));
  const config = join(dir, 'auth.json');
  writeFileSync(
    config,
    JSON.stringify({
      issuers: [testIssuer({ jwksUrl: corp.url })],
      identityPolicies: [
        {
          name: 'admins',
          groups: ['corp:admins', 'keys:admins'],
          statements: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        },
        {
          name: 'deployers',
          principals: ['serval:keys:deployer', 'serval:keys:mounted'],
          statements: [
            {
              Effect: 'Allow',
              Action: [
                'lambda:InvokeFunction',
                'lambda:PublishVersion',
                'lambda:CreateAlias',
                'lambda:ListVersionsByFunction',
              ],
              // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
              Resource: 'arn:serval:lambda:*:${serval:PrincipalNamespace}:function:*',
            },
          ],
        },
        {
          name: 'readers',
          groups: ['keys:readers'],
          statements: [{ Effect: 'Allow', Action: 'lambda:ListVersionsByFunction', Resource: '*' }],
        },
      ],
    }),
  );
  Object.assign(env, { SERVAL_AUTH_CONFIG: config, SERVAL_ACCESS_KEYS_FILE: keysFile });
  serval = await start();
  deployer = await createKey('--identity', 'deployer', '--description', 'ci deploys');
  reader = await createKey('--identity', 'reader', '--group', 'readers');
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  await serval?.stop();
  await corp?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('keys', () => {
  it('`serval keys list` shows every key and its principal, never a secret', async () => {
    const out = await serval_('keys', 'list');
    expect(out).toContain(`${deployer.accessKeyId}\tdefault\tserval:keys:deployer\t-\tapi\t`);
    expect(out).toContain(`${reader.accessKeyId}\tdefault\tserval:keys:reader\treaders\tapi\t`);
    expect(out).toContain(`${MOUNTED.accessKeyId}\tdefault\tserval:keys:mounted\t-\tfile\t`);
    expect(out).toContain(`${BOOTSTRAP.accessKeyId}\tdefault\tserval:keys:operator\tadmins\tfile\t`);
    for (const secret of secrets) expect(out).not.toContain(secret);
  });

  it('the CLI signs with SigV4 when given a key instead of a token: the file key issues one', async () => {
    const out = await servalAs(signingAs(BOOTSTRAP), 'keys', 'create', '--identity', 'signed-by-cli');
    const id = /AccessKeyId +(\S+)/.exec(out)![1]!;
    secrets.push(/SecretAccessKey +(\S+)/.exec(out)![1]!);
    expect(await servalAs(signingAs(BOOTSTRAP), 'keys', 'revoke', id)).toContain(`revoked ${id}`);
    // A key without the operator permission is refused, in AWS's words.
    await expect(servalAs(signingAs(deployer), 'keys', 'list')).rejects.toThrow(
      /AccessDeniedException: User: serval:keys:deployer/,
    );
    await expect(
      servalAs({ ...signingAs(deployer), AWS_SECRET_ACCESS_KEY: 'wrong-wrong-wrong-wrong' }, 'keys', 'list'),
    ).rejects.toThrow(/InvalidSignatureException/);
  });

  it('are kept in the data directory, readable by the gateway user only', () => {
    const file = join(dataDir, 'access-keys.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain(deployer.accessKeyId);
  });

  it('issuing one needs the operator permission', async () => {
    const res = await fetch(`${serval.url}/serval/v1/access-keys`, {
      method: 'POST',
      headers: (await signHeaders(
        deployer,
        signable('POST', '/serval/v1/access-keys', '{"identity":"x"}'),
      )) as HeadersInit,
      body: '{"identity":"x"}',
    });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
  });
});

describe('the JS SDK v3 signing with a Serval-issued key', () => {
  it('invokes, publishes a version and creates an alias', async () => {
    const client = lambda(deployer);
    const out = await client.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: JSON.stringify({ a: 1 }) }),
    );
    expect([out.StatusCode, json(out.Payload)]).toEqual([200, { got: { a: 1 } }]);
    const version = await client.send(
      new PublishVersionCommand({ FunctionName: 'echo', Description: 'signed' }),
    );
    expect(version.Version).toMatch(/^\d+$/);
    // A JSON body, parsed by the route after the signature check read it.
    const alias = await client.send(
      new CreateAliasCommand({ FunctionName: 'echo', Name: 'live', FunctionVersion: version.Version! }),
    );
    expect(alias.FunctionVersion).toBe(version.Version);
  });

  it('`serval publish` signs with the deployer key', async () => {
    expect(await servalAs(signingAs(deployer), 'publish', 'echo')).toMatch(/^echo: version \d+ /);
  });

  it('creates a function from a zip on a route added later, with no change for SigV4 (the body is large and JSON)', async () => {
    const client = lambda(BOOTSTRAP);
    const code = `export const handler = async (e) => ({ created: e });\n// ${'x'.repeat(200_000)}`;
    const created = await client.send(
      new CreateFunctionCommand({
        FunctionName: 'signed-create',
        Runtime: 'nodejs24.x',
        Handler: 'index.handler',
        Role: 'arn:aws:iam::000000000000:role/lambda',
        Code: { ZipFile: makeZip({ 'index.mjs': code }) },
      }),
    );
    expect(created.FunctionName).toBe('signed-create');
    const config = await client.send(new GetFunctionConfigurationCommand({ FunctionName: 'signed-create' }));
    expect(config.Handler).toBe('index.handler');
    const out = await client.send(new InvokeCommand({ FunctionName: 'signed-create', Payload: '{"k":1}' }));
    expect(json(out.Payload)).toEqual({ created: { k: 1 } });
  });

  it('with a key from the mounted file', async () => {
    const out = await lambda(MOUNTED).send(new InvokeCommand({ FunctionName: 'echo', Payload: '{"m":1}' }));
    expect(json(out.Payload)).toEqual({ got: { m: 1 } });
  });

  it('a key whose principal lacks lambda:InvokeFunction: AccessDeniedException', async () => {
    const client = lambda(reader);
    await expect(
      client.send(new ListVersionsByFunctionCommand({ FunctionName: 'echo' })),
    ).resolves.toBeDefined();
    const err = await client.send(new InvokeCommand({ FunctionName: 'echo' })).catch((e) => e);
    expect(err.name).toBe('AccessDeniedException');
    expect(err.message).toMatch(
      /^User: serval:keys:reader is not authorized to perform: lambda:InvokeFunction/,
    );
  });

  it('a client clock 10 minutes slow: InvalidSignatureException "Signature expired"', async () => {
    const slow = new LambdaClient({
      endpoint: serval.url,
      region: 'local',
      credentials: deployer,
      maxAttempts: 1,
      systemClockOffset: -10 * 60_000,
    });
    clients.push(slow);
    const err = await slow.send(new InvokeCommand({ FunctionName: 'echo' })).catch((e) => e);
    expect([err.name, err.$metadata?.httpStatusCode]).toEqual(['InvalidSignatureException', 403]);
    expect(err.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
  });

  it('an unknown key: UnrecognizedClientException', async () => {
    const client = lambda({ accessKeyId: 'AKSVNOBODYNOBODY0000', secretAccessKey: deployer.secretAccessKey });
    const err = await client.send(new InvokeCommand({ FunctionName: 'echo' })).catch((e) => e);
    expect([err.name, err.$metadata?.httpStatusCode, err.message]).toEqual([
      'UnrecognizedClientException',
      403,
      'The security token included in the request is invalid.',
    ]);
  });
});

describe('refusals on the wire', () => {
  const path = '/2015-03-31/functions/echo/invocations';

  it('an altered signature: 403 InvalidSignatureException', async () => {
    const headers = await signHeaders(deployer, signable('POST', path, '{}'));
    const auth = headers.authorization!;
    headers.authorization = auth.slice(0, -1) + (auth.endsWith('0') ? '1' : '0');
    const res = await fetch(serval.url + path, { method: 'POST', headers, body: '{}' });
    expect(res.status).toBe(403);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect((await res.json()).message).toMatch(/^The request signature we calculated does not match/);
  });

  it('a stale timestamp (signed 10 minutes ago): "Signature expired"', async () => {
    const headers = await signHeaders(deployer, {
      ...signable('POST', path, '{}'),
      signingDate: new Date(Date.now() - 10 * 60_000),
    });
    const res = await fetch(serval.url + path, { method: 'POST', headers, body: '{}' });
    expect([res.status, res.headers.get('x-amzn-errortype')]).toEqual([403, 'InvalidSignatureException']);
    expect((await res.json()).message).toMatch(
      /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
    );
  });

  it('malformed Authorization headers: 403 IncompleteSignatureException, never a 5xx', async () => {
    const date = new Date()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '');
    for (const authorization of [
      'AWS4-HMAC-SHA256',
      'AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=',
      `AWS4-HMAC-SHA256 Credential=${deployer.accessKeyId}/x, SignedHeaders=host, Signature=00`,
      'AWS4-ECDSA-P256-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00',
    ]) {
      const res = await fetch(serval.url + path, {
        method: 'POST',
        headers: { authorization, 'x-amz-date': date },
        body: '{}',
      });
      expect([authorization, res.status, res.headers.get('x-amzn-errortype')]).toEqual([
        authorization,
        403,
        'IncompleteSignatureException',
      ]);
    }
  });

  it('a chunked body is verified and still reaches the function whole', async () => {
    const body = JSON.stringify({ part: 'one', more: 'x'.repeat(70_000) });
    const headers = await signHeaders(deployer, signable('POST', path, body));
    delete headers['content-length'];
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(serval.url + path, { method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 1000));
      setTimeout(() => req.end(body.slice(1000)), 50);
    });
    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual({ got: JSON.parse(body) });
  });

  it('a presigned URL is accepted', async () => {
    const url = await presignUrl(deployer, {
      method: 'GET',
      url: `${serval.url}/2015-03-31/functions/echo/versions`,
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect((await res.json()).Versions.length).toBeGreaterThan(0);
  });
});

describe.skipIf(!awsCliAvailable)('the unmodified AWS CLI v1 signing with a Serval-issued key', () => {
  const as = (key: Key) => ({
    AWS_ACCESS_KEY_ID: key.accessKeyId,
    AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
  });

  it('invokes and publishes a version', async () => {
    const outFile = join(dir, 'out.json');
    const invoked = await aws(
      [
        'lambda',
        'invoke',
        '--endpoint-url',
        serval.url,
        '--function-name',
        'echo',
        '--payload',
        '{"cli":1}',
        outFile,
      ],
      as(deployer),
    );
    expect(invoked.stderr).toBe('');
    expect(JSON.parse(invoked.stdout).StatusCode).toBe(200);
    expect(JSON.parse(readFileSync(outFile, 'utf8'))).toEqual({ got: { cli: 1 } });
    const published = await aws(
      ['lambda', 'publish-version', '--endpoint-url', serval.url, '--function-name', 'echo'],
      as(deployer),
    );
    expect(published.code).toBe(0);
    expect(JSON.parse(published.stdout).Version).toMatch(/^\d+$/);
  });

  it('with a wrong secret: InvalidSignatureException', async () => {
    const out = await aws(
      ['lambda', 'invoke', '--endpoint-url', serval.url, '--function-name', 'echo', join(dir, 'x')],
      {
        AWS_ACCESS_KEY_ID: deployer.accessKeyId,
        AWS_SECRET_ACCESS_KEY: 'not-the-secret-not-the-secret-not-the-se',
      },
    );
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/InvalidSignatureException/);
  });
});

describe.skipIf(!boto3Available)('boto3 signing with a Serval-issued key', () => {
  it('runs the whole deployment script (every response in AWS shape) with auth on', async () => {
    const res = await runBoto3Flow(serval.url, mkdtempSync(join(dir, 'boto3-')), signingAs(BOOTSTRAP));
    expect(res.stderr + res.stdout).toMatch(/^ok: \d+ operations, every response in AWS shape$/m);
    expect(res.code).toBe(0);
  }, 480_000);

  it('is refused with an altered signature, a stale timestamp or an unknown key', async () => {
    const script = readFileSync(join(REPO_ROOT, 'test/fixtures/control-api/boto3_refusals.py'), 'utf8');
    const res = await runBoto3(script, { ENDPOINT: serval.url, FUNCTION: 'echo', ...signingAs(BOOTSTRAP) });
    expect(res.stderr + res.stdout).toContain('altered signature: InvalidSignatureException');
    expect(res.stdout).toContain('stale timestamp: InvalidSignatureException');
    expect(res.stdout).toContain('unknown key: UnrecognizedClientException');
    expect(res.stdout).toMatch(/^ok: refused altered, stale and unknown; signed properly, accepted$/m);
    expect(res.code).toBe(0);
  }, 120_000);
});

describe('revocation and restarts', () => {
  it('a revoked key is refused: UnrecognizedClientException', async () => {
    expect(await serval_('keys', 'revoke', reader.accessKeyId)).toContain(`revoked ${reader.accessKeyId}`);
    const err = await lambda(reader)
      .send(new ListVersionsByFunctionCommand({ FunctionName: 'echo' }))
      .catch((e) => e);
    expect(err.name).toBe('UnrecognizedClientException');
    expect(await serval_('keys', 'list')).not.toContain(reader.accessKeyId);
  });

  it('issued keys still sign after a restart', async () => {
    const log = serval.gatewayLog();
    await serval.stop();
    serval = await start();
    serval.gatewayLog().unshift(...log);
    const out = await lambda(deployer).send(new InvokeCommand({ FunctionName: 'echo', Payload: '{}' }));
    expect(out.StatusCode).toBe(200);
  }, 60_000);

  it('no secret appears in any log line, and refusals are logged by reason and key id', () => {
    const log = serval.gatewayLog();
    expect(log).toContain(
      `auth: SigV4 access keys: 2 from ${join(dir, 'keys.yaml')}, 1 issued through the API (${join(dataDir, 'access-keys.json')})`,
    );
    expect(log.some((l) => l.includes(`auth: 403 sigv4 bad-signature (key ${deployer.accessKeyId})`))).toBe(
      true,
    );
    expect(log.some((l) => l.includes('auth: 403 sigv4 expired'))).toBe(true);
    expect(log.some((l) => l.includes('auth: 403 sigv4 unknown-key (key AKSVNOBODYNOBODY0000)'))).toBe(true);
    for (const secret of secrets) for (const line of log) expect(line).not.toContain(secret);
  });
});

/** A request as the kit signs it (its URL at this gateway). */
function signable(method: string, path: string, body?: string) {
  return { method, url: serval.url + path, body, headers: { 'content-type': 'application/json' } };
}
