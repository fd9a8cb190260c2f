// The detached JWS a function's code carries: a compact JWS whose payload is the code's sha256 (hex, as
// Serval computes it) and is left out of the token, so the signature travels beside the code it vouches for.
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { CompactSign, compactVerify } from 'jose';
import type { CodeSigningConfig } from '../../../apis/code-signing.ts';

/** Public-key algorithms only: a shared secret (HS*) cannot tell the signer from the verifier. */
const ALGORITHMS = ['ES256', 'ES384', 'EdDSA', 'RS256', 'PS256'];

/** The JWS algorithm a private key signs with. */
function algorithmOf(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec')
    return key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'ES384' : 'ES256';
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new Error(`cannot sign with a ${key.asymmetricKeyType} key; use EC P-256/P-384, Ed25519 or RSA`);
}

export async function signCode(sha256: string, privateKeyPem: string): Promise<string> {
  const key = createPrivateKey(privateKeyPem);
  const jws = await new CompactSign(new TextEncoder().encode(sha256))
    .setProtectedHeader({ alg: algorithmOf(key), typ: 'serval-code+jws' })
    .sign(key);
  const [header, , signature] = jws.split('.');
  return `${header}..${signature}`;
}

/** `until`: the signing key's notAfter (epoch ms), after which the verdict must be made again. */
export type SignatureVerdict = { valid: true; until?: number } | { valid: false; reason: string };

/** Whether one of the config's keys, still in force at `now`, signed exactly this sha256. */
export async function verifyCode(
  sha256: string,
  signature: string | undefined,
  config: CodeSigningConfig['spec'],
  now: number,
): Promise<SignatureVerdict> {
  if (!signature) return { valid: false, reason: 'the code is not signed' };
  const [header, , sig] = signature.split('.');
  const token = `${header}.${Buffer.from(sha256).toString('base64url')}.${sig}`;
  let expired = false;
  for (const trusted of config.trustedKeys) {
    let key: KeyObject;
    try {
      key = createPublicKey(trusted.publicKey);
    } catch {
      continue; // a malformed key vouches for nothing; the others may still
    }
    try {
      await compactVerify(token, key, { algorithms: ALGORITHMS });
    } catch {
      continue;
    }
    if (trusted.notAfter && Date.parse(trusted.notAfter) < now) {
      expired = true;
      continue;
    }
    return trusted.notAfter ? { valid: true, until: Date.parse(trusted.notAfter) } : { valid: true };
  }
  return {
    valid: false,
    reason: expired
      ? 'the key that signed the code expired'
      : 'no trusted key signed this code (altered code, or a key the config does not trust)',
  };
}
