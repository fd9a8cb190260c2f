// Bearer JWT → Principal: picks the configured issuer by `iss`, verifies with jose against that issuer's
// keys, pinned algorithms, audience and bounded clock skew, then maps subject, namespace and groups.
import { createHash } from 'node:crypto';
import {
  decodeJwt,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyResult,
  jwtVerify,
} from 'jose';
import type { IssuerSettings } from './auth-config.ts';
import { AuthenticationError, type RejectionReason } from './authentication-error.ts';
import {
  type FetchJwks,
  type KeySource,
  KeysUnavailableError,
  RemoteJwks,
  StaticKeys,
} from './key-sources.ts';
import type { Principal } from './policy.ts';

/** Longer tokens are refused unread. */
export const MAX_TOKEN_LENGTH = 8192;
/** Verified tokens remembered (by hash) so a caller reusing its token skips the signature check. */
const VERIFIED_CACHE_SIZE = 10_000;

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

interface Issuer {
  settings: IssuerSettings;
  keys: KeySource;
}

interface Verified {
  principal: Principal;
  issuer: Issuer;
  generation: number;
  exp: number;
  nbf: number | undefined;
}

export interface AuthenticatorDeps {
  /** Milliseconds since the epoch; tests move it. */
  clock?: () => number;
  log: (line: string) => void;
  fetchJwks?: FetchJwks;
}

export class Authenticator {
  private readonly byIss = new Map<string, Issuer>();
  private readonly clock: () => number;
  private readonly verified = new Map<string, Verified>();

  constructor(issuers: readonly IssuerSettings[], deps: AuthenticatorDeps) {
    this.clock = deps.clock ?? Date.now;
    for (const settings of issuers) {
      const keys =
        settings.keys.kind === 'static'
          ? new StaticKeys(settings.keys)
          : new RemoteJwks(settings.name, settings.keys, { ...deps, clock: this.clock });
      this.byIss.set(settings.issuer, { settings, keys });
    }
  }

  /** The key source of a configured issuer, by name. */
  keysOf(name: string): KeySource | undefined {
    for (const issuer of this.byIss.values()) if (issuer.settings.name === name) return issuer.keys;
    return undefined;
  }

  /** Verifies the Authorization header's bearer token; throws AuthenticationError (401) otherwise. */
  async authenticate(authorization: string | string[] | undefined): Promise<Principal> {
    const token = bearerToken(authorization);
    const cacheKey = createHash('sha256').update(token).digest('base64');
    const hit = this.verified.get(cacheKey);
    if (hit && this.stillValid(hit)) return hit.principal;
    if (hit) this.verified.delete(cacheKey);

    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new AuthenticationError('malformed');
    }
    const issuer = typeof iss === 'string' ? this.byIss.get(iss) : undefined;
    if (!issuer) throw new AuthenticationError('unknown-issuer');
    const { result, generation } = await this.verify(token, issuer);
    const principal = toPrincipal(result.payload, issuer.settings);
    this.remember(cacheKey, {
      principal,
      issuer,
      generation,
      exp: result.payload.exp!,
      nbf: result.payload.nbf,
    });
    return principal;
  }

  /** Also returns the key generation the signature was checked against (a refresh may happen meanwhile). */
  private async verify(
    token: string,
    issuer: Issuer,
  ): Promise<{ result: JWTVerifyResult; generation: number }> {
    const s = issuer.settings;
    let generation = issuer.keys.generation;
    const getKey: JWTVerifyGetKey = async (header, input) => {
      const key = await issuer.keys.getKey(header, input);
      generation = issuer.keys.generation;
      return key;
    };
    const options = {
      issuer: s.issuer,
      audience: s.audiences,
      algorithms: s.algorithms,
      clockTolerance: s.clockSkewSeconds,
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(this.clock()),
    };
    try {
      try {
        return { result: await jwtVerify(token, getKey, options), generation };
      } catch (err) {
        // Several keys fit a token without a kid: try each (jose hands them over on the error).
        if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
        for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
          try {
            return { result: await jwtVerify(token, key, options), generation };
          } catch (inner) {
            if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
          }
        }
        throw new errors.JWSSignatureVerificationFailed();
      }
    } catch (err) {
      if (err instanceof KeysUnavailableError) throw err;
      throw new AuthenticationError(rejectionReason(err), s.name);
    }
  }

  private stillValid(v: Verified): boolean {
    const now = this.clock() / 1000;
    const skew = v.issuer.settings.clockSkewSeconds;
    return (
      v.generation === v.issuer.keys.generation &&
      v.issuer.keys.fresh &&
      v.exp > now - skew &&
      (v.nbf === undefined || v.nbf <= now + skew)
    );
  }

  private remember(key: string, v: Verified): void {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // Maps iterate in insertion order: drop the oldest entry.
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(key, v);
  }
}

function bearerToken(authorization: string | string[] | undefined): string {
  if (Array.isArray(authorization)) {
    if (authorization.length > 1) throw new AuthenticationError('malformed');
    authorization = authorization[0];
  }
  if (!authorization) throw new AuthenticationError('missing');
  const space = authorization.indexOf(' ');
  if (space < 0 || authorization.slice(0, space).toLowerCase() !== 'bearer') {
    throw new AuthenticationError('missing'); // another scheme is no bearer credential at all
  }
  const token = authorization.slice(space + 1).trim();
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw new AuthenticationError('malformed');
  return token;
}

function rejectionReason(err: unknown): RejectionReason {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return 'missing-claim';
    if (err.claim === 'nbf') return 'not-yet-valid';
    if (err.claim === 'aud') return 'wrong-audience';
    if (err.claim === 'iss') return 'wrong-issuer';
    return 'invalid';
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm-not-allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'unknown-key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad-signature';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed';
  return 'invalid';
}

function toPrincipal(claims: JWTPayload, s: IssuerSettings): Principal {
  const subject = claims.sub;
  if (typeof subject !== 'string' || subject === '') throw new AuthenticationError('missing-claim', s.name);
  const namespace = 'fixed' in s.namespace ? s.namespace.fixed : claimAt(claims, s.namespace.claim);
  if (typeof namespace !== 'string' || !NAMESPACE.test(namespace)) {
    throw new AuthenticationError('no-namespace', s.name);
  }
  // The API server puts every service account in these groups; RBAC users will recognise them.
  const groups = s.kubernetes
    ? ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated']
    : stringsOf(claimAt(claims, s.groupsClaim));
  return { id: `serval:${s.name}:${subject}`, issuer: s.name, subject, namespace, groups, claims };
}

function claimAt(claims: JWTPayload, path: readonly string[]): unknown {
  let value: unknown = claims;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
