// The cost of auth: the authorize path in process (token verification with cached keys, then policy
// evaluation), and a warm invocation over HTTP with auth off and on. Returns a section of docs/benchmarks.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { signRequest } from '../apis/sigv4.ts';
import type { AccessKey } from '../gateway/src/auth/access-keys/access-key.ts';
import { type AuthSettings, parseAuthFile } from '../gateway/src/auth/auth-config.ts';
import { Authorizer, type Caller } from '../gateway/src/auth/authorizer.ts';
import {
  compileIdentityPolicies,
  compileStatements,
  evaluate,
  ownResources,
} from '../gateway/src/auth/policy.ts';
import { parseGatewayConfig } from '../gateway/src/config.ts';
import { startGateway } from '../gateway/src/gateway.ts';
import { LocalProvider } from '../gateway/src/providers/local/local-provider.ts';
import { FunctionRegistry } from '../gateway/src/registry/function-registry.ts';
import { loadManifestDirectory } from '../gateway/src/registry/manifest-loader.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SAMPLES = Number(process.env.BENCH_AUTH_SAMPLES ?? 5000);
const HTTP_SAMPLES = Number(process.env.BENCH_WARM_SAMPLES ?? 3000);
const ARN = 'arn:serval:lambda:local:default:function:echo';

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (x: number) => `${x.toFixed(3)} ms`;

async function time(n: number, fn: (i: number) => Promise<unknown> | unknown): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    samples.push(performance.now() - t);
  }
  return samples;
}

function settings(spki: string): AuthSettings {
  const doc = {
    issuers: [
      {
        name: 'bench',
        issuer: 'https://bench.test',
        audience: 'serval',
        namespace: { fixed: 'default' },
        staticKeys: [spki],
      },
    ],
    identityPolicies: [
      {
        namespaces: ['*'],
        statements: [
          {
            Effect: 'Deny',
            Action: 'lambda:*',
            Resource: '*',
            Condition: { NotIpAddress: { 'serval:SourceIp': '127.0.0.0/8' } },
          },
          {
            Effect: 'Allow',
            Action: ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'],
            // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable
            Resource: 'arn:serval:lambda:*:${serval:PrincipalNamespace}:function:*',
          },
        ],
      },
    ],
  };
  return parseAuthFile(JSON.stringify(doc), join(tmpdir(), 'bench-auth.json'));
}

/** A warm Node echo behind an in-process gateway; p50/p99 of sequential keep-alive invocations. */
async function warmInvoke(auth: AuthSettings, token: string | undefined): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'serval-bench-auth-'));
  const manifests = join(dir, 'manifests');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'echo.yaml'),
    `apiVersion: serval.dev/v1alpha1\nkind: Function\nmetadata: {name: echo}\nspec: {runtime: nodejs24.x, handler: index.handler, code: {path: ${join(ROOT, 'test/fixtures/functions/node/echo-esm')}}}\n`,
  );
  const config = parseGatewayConfig(
    {},
    { port: 0, metricsPort: 0, metrics: 'off', logFormat: 'text', dataDir: join(dir, 'data'), auth },
  );
  const loaded = loadManifestDirectory(manifests, config.dataDir);
  const registry = new FunctionRegistry();
  for (const fn of loaded.functions) registry.put(fn);
  const provider = new LocalProvider(config, () => {});
  const gateway = await startGateway({ config, registry, provider, log: () => {} });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = `${gateway.url}/2015-03-31/functions/echo/invocations`;
  const post = () =>
    new Promise<void>((done, fail) => {
      const headers: Record<string, string | number> = { 'Content-Length': 7 };
      if (token) headers.Authorization = `Bearer ${token}`;
      const req = request(url, { method: 'POST', agent, headers }, (res) => {
        if (res.statusCode !== 200) fail(new Error(`HTTP ${res.statusCode}`));
        res.resume().on('end', () => done());
      });
      req.on('error', fail);
      req.end('{"a":1}');
    });
  try {
    await time(300, post);
    return await time(HTTP_SAMPLES, post);
  } finally {
    agent.destroy();
    await gateway.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function authBench(): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const auth = settings(await exportSPKI(publicKey));
  const sign = (sub: string) =>
    new SignJWT({ sub })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('https://bench.test')
      .setAudience('serval')
      .setExpirationTime('1h')
      .sign(privateKey);
  const registry = new FunctionRegistry();
  const key: AccessKey = {
    accessKeyId: 'AKSVBENCHBENCHBENCH0',
    secretAccessKey: 'YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldC1iZW5j',
    namespace: 'default',
    identity: 'bench',
    groups: [],
  };
  const authorizer = new Authorizer({
    config: { region: 'local', auth },
    registry,
    log: () => {},
    accessKeys: { get: (id) => (id === key.accessKeyId ? key : undefined) },
  });
  const caller = (token: string): Caller => ({
    authorization: [`Bearer ${token}`],
    sourceIp: '127.0.0.1',
    secureTransport: false,
  });
  const target = { namespace: 'default', name: 'echo' };

  const reused = caller(await sign('reused'));
  await time(500, () => authorizer.authorizeFunction(reused, target));
  const cached = await time(SAMPLES, () => authorizer.authorizeFunction(reused, target));

  const fresh = await Promise.all(Array.from({ length: SAMPLES + 500 }, (_, i) => sign(`caller-${i}`)));
  await time(500, (i) => authorizer.authorizeFunction(caller(fresh[i]!), target));
  const verified = await time(SAMPLES, (i) => authorizer.authorizeFunction(caller(fresh[500 + i]!), target));

  // SigV4 as the SDK sends an Invoke: signed in advance, so only verification is timed.
  const payload = Buffer.from('{"a":1}');
  const url = 'http://127.0.0.1:8080/2015-03-31/functions/echo/invocations';
  const signed = Array.from({ length: SAMPLES + 500 }, (_, i) => {
    const headers = signRequest(
      key,
      {
        method: 'POST',
        url,
        headers: { 'x-amz-invocation-type': `RequestResponse`, 'x-n': String(i) },
        body: '{"a":1}',
      },
      'local',
      new Date(),
    );
    const all: Record<string, string[]> = { host: ['127.0.0.1:8080'] };
    for (const [name, value] of Object.entries(headers)) all[name] = [value];
    return { method: 'POST', url: '/2015-03-31/functions/echo/invocations', headers: all };
  });
  const sigv4 = async (i: number) => {
    const signedBy = await authorizer.authenticateSignature(signed[i]!, '127.0.0.1', async () => payload);
    await authorizer.authorizeFunction({ ...reused, signedBy }, target);
  };
  await time(500, (i) => sigv4(i));
  const sigv4Samples = await time(SAMPLES, (i) => sigv4(500 + i));

  const identity = compileIdentityPolicies(auth.identityPolicies);
  const resource = compileStatements([], ownResources(ARN));
  const principal = await authorizer.authenticator.authenticate(reused.authorization);
  const request = {
    action: 'lambda:InvokeFunction',
    resource: ARN,
    resourceNamespace: 'default',
    principal,
    sourceIp: '127.0.0.1',
    secureTransport: false,
  };
  const evaluation = await time(SAMPLES, () => evaluate(request, identity, resource));

  const off = await warmInvoke(
    { mode: 'off', source: undefined, issuers: [], identityPolicies: [] },
    undefined,
  );
  const on = await warmInvoke(auth, (await sign('http-caller')) as string);

  const row = (label: string, xs: number[]) => `| ${label} | ${ms(pct(xs, 50))} | ${ms(pct(xs, 99))} |`;
  return `## Auth (bench/auth.ts)

In process, one RS256 issuer with its key cached, an identity policy of two statements (a Deny with an
IpAddress condition and an Allow with a policy variable). ${SAMPLES} sequential calls each.

| Authorize path | p50 | p99 |
|---|---|---|
${row('token seen before (verified-token cache) + policy evaluation', cached)}
${row('new token every call (jose signature check) + policy evaluation', verified)}
${row('SigV4, a new signature every call (canonical request, signing key remembered per key and day) + policy evaluation', sigv4Samples)}
${row('policy evaluation alone', evaluation)}

Warm invocation over HTTP (Node echo, one keep-alive connection, ${HTTP_SAMPLES} samples):

| Gateway | p50 | p99 |
|---|---|---|
${row('auth off', off)}
${row('auth on, bearer JWT', on)}

Auth on adds ${ms(pct(on, 50) - pct(off, 50))} at p50 end to end. Target: under 0.2 ms p50 per invocation with
cached keys. A caller that reuses its token (as SDKs and service-account tokens do) pays the first row; the
signature check itself (second row) is paid once per token.
`;
}

if (import.meta.main) process.stdout.write(await authBench());
