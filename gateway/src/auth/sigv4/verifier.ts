// Verifies AWS Signature Version 4 as AWS does for Lambda: the key must be known, the scope
// <date>/<region>/lambda/aws4_request, the date within 5 minutes (or the presigned validity), the payload
// hash that of the body, and the signature equal (compared in constant time) to the one we compute.
import { type KeyObject, timingSafeEqual } from 'node:crypto';
import {
  canonicalRequest,
  type Scope,
  scopeString,
  sha256Hex,
  signingKey,
  signWith,
  TERMINATOR,
  type WireRequest,
} from '../../../../apis/sigv4.ts';
import { type AccessKey, type KeyLookup, principalOf } from '../access-keys/access-key.ts';
import type { Principal } from '../policy.ts';
import { SIGNATURE_MISMATCH, SignatureError, UNKNOWN_KEY } from './signature-error.ts';
import { dateOf, keyIdForLog, readClaim, type SignedClaim } from './signed-claim.ts';

export const SERVICE = 'lambda';
/** AWS's allowed clock difference between a signer and the service. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** A claim whose key is known and whose scope and date hold; only the signature is left to check. */
export interface PendingSignature {
  claim: SignedClaim;
  key: AccessKey;
}

export interface VerifierDeps {
  region: string;
  keys: KeyLookup;
  /** Milliseconds since the epoch; tests move it. */
  clock?: () => number;
}

export class SignatureVerifier {
  private readonly region: string;
  private readonly keys: KeyLookup;
  private readonly clock: () => number;
  private readonly signingKeys = new WeakMap<AccessKey, { scope: string; key: KeyObject }>();

  constructor(deps: VerifierDeps) {
    this.region = deps.region;
    this.keys = deps.keys;
    this.clock = deps.clock ?? Date.now;
  }

  /** Everything that needs no body: run first, so a stranger cannot make the gateway buffer one. */
  begin(request: WireRequest): PendingSignature {
    const claim = readClaim(request);
    const id = keyIdForLog(claim.accessKeyId);
    const key = this.keys.get(claim.accessKeyId);
    if (!key) throw new SignatureError('UnrecognizedClientException', 'unknown-key', UNKNOWN_KEY, id);
    const wrongScope = (message: string) =>
      new SignatureError('InvalidSignatureException', 'wrong-scope', message, id);
    const { scope } = claim;
    if (scope.date !== claim.amzDate.slice(0, 8)) {
      throw wrongScope(
        `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${printable(scope.date)}' != '${claim.amzDate.slice(0, 8)}', from '${claim.amzDate}'.`,
      );
    }
    if (scope.region !== this.region) {
      throw wrongScope(
        `Credential should be scoped to a valid region, not '${printable(scope.region)}'; this gateway's region is '${this.region}'.`,
      );
    }
    if (scope.service !== SERVICE) {
      throw wrongScope(`Credential should be scoped to correct service: '${SERVICE}'.`);
    }
    if (claim.terminator !== TERMINATOR) {
      throw wrongScope(`Credential should be scoped with a valid terminator: '${TERMINATOR}'.`);
    }
    this.checkTime(claim, id);
    return { claim, key };
  }

  /** The signature over the request and its body; returns the key's principal. */
  finish({ claim, key }: PendingSignature, request: WireRequest, body: Buffer): Principal {
    const id = keyIdForLog(claim.accessKeyId);
    const declared = request.headers['x-amz-content-sha256'];
    const bodyHash = sha256Hex(body);
    let payloadHash = bodyHash;
    if (declared !== undefined) {
      const value = declared.length === 1 ? declared[0]! : '';
      if (!HEX_SHA256.test(value)) {
        throw new SignatureError(
          'InvalidSignatureException',
          'payload-mismatch',
          'x-amz-content-sha256 must be the hex SHA-256 of the body; Lambda accepts no UNSIGNED-PAYLOAD or streaming payloads.',
          id,
        );
      }
      if (value !== bodyHash) {
        throw new SignatureError(
          'InvalidSignatureException',
          'payload-mismatch',
          "The provided 'x-amz-content-sha256' header does not match what was computed.",
          id,
        );
      }
      payloadHash = value;
    }
    const canonical = canonicalRequest(
      request,
      claim.signedHeaders,
      payloadHash,
      claim.form === 'query' ? 'X-Amz-Signature' : undefined,
    );
    const expected = signWith(this.signingKeyOf(key, claim.scope), claim.amzDate, claim.scope, canonical);
    if (
      !HEX_SHA256.test(claim.signature) ||
      !timingSafeEqual(Buffer.from(expected), Buffer.from(claim.signature))
    ) {
      throw new SignatureError('InvalidSignatureException', 'bad-signature', SIGNATURE_MISMATCH, id);
    }
    return principalOf(key);
  }

  /**
   * The derivation costs four HMACs and a key signs many requests a day: the last scope's signing key is
   * remembered per key record (a reloaded or revoked key is a new record or none, and its entry goes).
   */
  private signingKeyOf(key: AccessKey, scope: Scope): KeyObject {
    const text = scopeString(scope);
    const remembered = this.signingKeys.get(key);
    if (remembered?.scope === text) return remembered.key;
    const signing = signingKey(key.secretAccessKey, scope);
    this.signingKeys.set(key, { scope: text, key: signing });
    return signing;
  }

  /** AWS's words: "Signature expired: <date> is now earlier than <limit> (<now> - 5 min.)". */
  private checkTime(claim: SignedClaim, id: string | undefined): void {
    const now = this.clock();
    const signedAt = dateOf(claim.amzDate);
    const nowText = amzDate(now);
    if (signedAt > now + CLOCK_SKEW_MS) {
      throw new SignatureError(
        'InvalidSignatureException',
        'not-yet-valid',
        `Signature not yet current: ${claim.amzDate} is still later than ${amzDate(now + CLOCK_SKEW_MS)} (${nowText} + 5 min.)`,
        id,
      );
    }
    const validMs = claim.expiresSeconds === undefined ? CLOCK_SKEW_MS : claim.expiresSeconds * 1000;
    if (signedAt < now - validMs) {
      const window = claim.expiresSeconds === undefined ? '5 min.' : `${claim.expiresSeconds} sec.`;
      throw new SignatureError(
        'InvalidSignatureException',
        'expired',
        `Signature expired: ${claim.amzDate} is now earlier than ${amzDate(now - validMs)} (${nowText} - ${window})`,
        id,
      );
    }
  }
}

/** `yyyymmddThhmmssZ` */
export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

/** The caller's own scope text, safe to repeat back. */
const printable = (value: string) => value.replace(/[^A-Za-z0-9_.-]/g, '?').slice(0, 64);
