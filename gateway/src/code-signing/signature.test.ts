// Detached code signatures with each supported key type: they verify for the signed sha256 only, and only
// with a trusted key still in force.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signCode, verifyCode } from './signature.ts';

const SHA = 'a'.repeat(64);
const keys = {
  'EC P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  'EC P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }),
  Ed25519: generateKeyPairSync('ed25519'),
  RSA: generateKeyPairSync('rsa', { modulusLength: 2048 }),
};
const pems = (pair: (typeof keys)['Ed25519']) => ({
  publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
});

describe.each(Object.entries(keys))('%s', (_, pair) => {
  const { publicKey, privateKey } = pems(pair);
  const config = { policy: 'Enforce' as const, trustedKeys: [{ publicKey }] };

  it('verifies the sha256 it signed, and nothing else', async () => {
    const signature = await signCode(SHA, privateKey);
    expect(signature).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
    expect(await verifyCode(SHA, signature, config, Date.now())).toEqual({ valid: true });
    expect(await verifyCode('b'.repeat(64), signature, config, Date.now())).toMatchObject({ valid: false });
  });

  it('stops vouching once the key is past notAfter', async () => {
    const signature = await signCode(SHA, privateKey);
    const expiring = { ...config, trustedKeys: [{ publicKey, notAfter: '2030-01-01T00:00:00Z' }] };
    expect(await verifyCode(SHA, signature, expiring, Date.parse('2029-12-31T00:00:00Z'))).toMatchObject({
      valid: true,
    });
    expect(await verifyCode(SHA, signature, expiring, Date.parse('2030-01-02T00:00:00Z'))).toEqual({
      valid: false,
      reason: 'the key that signed the code expired',
    });
  });
});

it('a malformed trusted key vouches for nothing but does not stop the others', async () => {
  const { publicKey, privateKey } = pems(keys.Ed25519);
  const signature = await signCode(SHA, privateKey);
  const config = { policy: 'Warn' as const, trustedKeys: [{ publicKey: 'not a key' }, { publicKey }] };
  expect(await verifyCode(SHA, signature, config, Date.now())).toEqual({ valid: true });
  expect(await verifyCode(SHA, 'x..y', config, Date.now())).toMatchObject({ valid: false });
});
