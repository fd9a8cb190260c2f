// Code signing in local mode: a CodeSigningConfig of trusted keys, functions whose spec.codeSigning carries
// a detached JWS over their code's sha256, checked before any environment runs them.
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { signCode } from '../../gateway/src/code-signing/signature.ts';
import { hashInline } from '../../gateway/src/registry/code.ts';
import {
  functionManifest,
  inlineNode,
  REPO_ROOT,
  startServal,
  type TestServal,
  testDataRoot,
} from '../support/serval.ts';

const pem = () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
};
const trusted = pem();
const retired = pem();
const stranger = pem();
const source = (label: string) => ({
  'index.mjs': `export const handler = async () => ({ label: '${label}' });\n`,
});
const signingConfig = (name: string, policy: string, keys: Array<Record<string, string>>) => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'CodeSigningConfig',
  metadata: { name },
  spec: { policy, trustedKeys: keys },
});
const signed = (name: string, config: string, code: Record<string, string>, signature?: string) =>
  inlineNode(name, '', {
    inline: code,
    spec: { codeSigning: { config, ...(signature ? { signature } : {}) } },
  });

/** `serval sign`, the real command, without blocking this process. */
function serval(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/serval.mjs', ...args], { cwd: REPO_ROOT }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let gateway: TestServal;
let cliSignature: string;

beforeAll(async () => {
  const work = mkdtempSync(join(testDataRoot(), 'code-signing-'));
  const keyFile = join(work, 'signing-key.pem');
  writeFileSync(keyFile, trusted.privateKey);
  const manifest = join(work, 'fn.yaml');
  writeFileSync(manifest, stringify(functionManifest(inlineNode('by-cli', '', { inline: source('cli') }))));
  const cli = await serval('sign', manifest, '--key', keyFile);
  expect(cli, cli.stderr).toMatchObject({ code: 0, stderr: '' });
  cliSignature = cli.stdout.trim();

  const sig = (code: Record<string, string>, key = trusted.privateKey) => signCode(hashInline(code), key);
  gateway = await startServal({
    functions: [
      signed('good', 'strict', source('good'), await sig(source('good'))),
      signed('by-cli', 'strict', source('cli'), cliSignature),
      // Signed as one thing, shipped as another.
      signed('tampered', 'strict', source('tampered'), await sig(source('the original'))),
      signed('unsigned', 'strict', source('unsigned')),
      signed('stranger', 'strict', source('stranger'), await sig(source('stranger'), stranger.privateKey)),
      signed('expired', 'strict', source('expired'), await sig(source('expired'), retired.privateKey)),
      signed('warned', 'lenient', source('warned'), await sig(source('something else'))),
      signed('no-config', 'missing', source('no-config'), await sig(source('no-config'))),
    ],
    documents: [
      signingConfig('strict', 'Enforce', [
        { publicKey: trusted.publicKey },
        { publicKey: retired.publicKey, notAfter: '2020-01-01T00:00:00Z' },
      ]),
      signingConfig('lenient', 'Warn', [{ publicKey: trusted.publicKey }]),
      signingConfig('broken', 'Sometimes', [{ publicKey: trusted.publicKey }]),
    ],
  });
}, 120_000);
afterAll(() => gateway?.stop());

describe('code signing', () => {
  it('runs code a trusted key signed, with serval sign or with the library', async () => {
    expect(cliSignature).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
    for (const [name, label] of [
      ['good', 'good'],
      ['by-cli', 'cli'],
    ]) {
      const res = await gateway.invoke(name!, {});
      expect(res.status, res.text).toBe(200);
      expect(res.json()).toEqual({ label });
    }
  });

  it.each([
    ['tampered', /no trusted key signed this code/],
    ['unsigned', /the code is not signed/],
    ['stranger', /no trusted key signed this code/],
    ['expired', /the key that signed the code expired/],
    ['no-config', /no CodeSigningConfig default\/missing/],
  ])('Enforce refuses %s before any environment runs it', async (name, reason) => {
    const res = await gateway.invoke(name, {});
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('CodeVerificationFailedException');
    expect(String((res.json() as { message: string }).message)).toMatch(reason);
    // No environment started: nothing of the function ever logged (no START line).
    expect(gateway.logs(name)).toEqual([]);
  });

  it('Warn runs code that does not verify, and says so once', async () => {
    for (let i = 0; i < 3; i++)
      expect((await gateway.invoke('warned', {})).json()).toEqual({ label: 'warned' });
    const warnings = gateway.gatewayLog().filter((l) => l.includes('code signing (Warn): default/warned'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no trusted key signed this code .*; running it anyway$/);
  });

  it('refuses a CodeSigningConfig with an unknown policy at load, naming the field', () => {
    expect(gateway.loaded.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'spec.policy' })]),
    );
  });

  it('serval sign says what is wrong with its input', async () => {
    const missing = await serval('sign', '--sha256', 'ab', '--key', '/nonexistent.pem');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--sha256 with the code sha256 in hex/);
    const noKey = await serval('sign', '--sha256', 'a'.repeat(64), '--key', '/nonexistent.pem');
    expect(noKey.stderr).toMatch(/cannot read the private key/);
  });
});
