// Where an issuer's public keys come from: a JWKS URL, cached and refreshed (on age, and on an unknown
// `kid` at most once per cooldown), or static keys from the configuration.

import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { JwksKeySource, StaticKeySource } from './auth-config.ts';

/** What the authenticator needs from a key source. */
export interface KeySource {
  getKey: JWTVerifyGetKey;
  /** Changes whenever the set of keys changes; a verification made under another generation is void. */
  readonly generation: number;
  /** False once the cached keys are past their max age: the next verification refreshes them. */
  readonly fresh: boolean;
}

/** No keys could be had for an issuer: the issuer is unreachable and nothing is cached. */
export class KeysUnavailableError extends Error {}

export type FetchJwks = (source: JwksKeySource) => Promise<unknown>;

/** Past max age, keys that can no longer be refreshed are still used for this long (issuer outage). */
const STALE_IF_ERROR_MS = 60 * 60 * 1000;
/** Refreshes after a failure are at least this far apart, whatever the cooldown. */
const RETRY_AFTER_FAILURE_MS = 1000;
const MAX_JWKS_BYTES = 1024 * 1024;

const isNoMatchingKey = (err: unknown) => err instanceof errors.JWKSNoMatchingKey;

export class StaticKeys implements KeySource {
  readonly generation = 0;
  readonly fresh = true;
  readonly getKey: JWTVerifyGetKey;

  constructor(source: StaticKeySource) {
    const withKid = createLocalJWKSet({ keys: source.keys as JSONWebKeySet['keys'] });
    const kidless = source.keys.filter((k) => k.kid === undefined);
    // A static key configured without a kid verifies tokens whatever kid they carry.
    const anyKid =
      kidless.length > 0 ? createLocalJWKSet({ keys: kidless as JSONWebKeySet['keys'] }) : undefined;
    this.getKey = async (header, token) => {
      try {
        return await withKid(header, token);
      } catch (err) {
        if (!anyKid || !isNoMatchingKey(err) || header.kid === undefined) throw err;
        return anyKid({ ...header, kid: undefined }, token);
      }
    };
  }
}

export class RemoteJwks implements KeySource {
  private readonly source: JwksKeySource;
  private readonly issuerName: string;
  private readonly clock: () => number;
  private readonly fetchJwks: FetchJwks;
  private readonly log: (line: string) => void;
  private local: ReturnType<typeof createLocalJWKSet> | undefined;
  private fingerprint = '';
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private lastFailed = false;
  private pending: Promise<void> | undefined;
  generation = 0;
  /** How many times the JWKS URL was fetched (for diagnostics and tests). */
  fetches = 0;

  constructor(
    issuerName: string,
    source: JwksKeySource,
    deps: { clock: () => number; log: (line: string) => void; fetchJwks?: FetchJwks | undefined },
  ) {
    this.issuerName = issuerName;
    this.source = source;
    this.clock = deps.clock;
    this.log = deps.log;
    this.fetchJwks = deps.fetchJwks ?? fetchJwksOverHttp;
  }

  get fresh(): boolean {
    return this.local !== undefined && this.clock() - this.fetchedAt < this.source.cacheMaxAgeSeconds * 1000;
  }

  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    if (!this.fresh && this.mayRefresh()) await this.refresh();
    if (
      this.local &&
      this.clock() - this.fetchedAt > this.source.cacheMaxAgeSeconds * 1000 + STALE_IF_ERROR_MS
    ) {
      this.local = undefined; // too stale to trust any longer
    }
    if (!this.local) throw new KeysUnavailableError(`no keys for issuer ${this.issuerName}`);
    try {
      return await this.local(header, token);
    } catch (err) {
      // A new kid is how rotation announces itself: refetch, but at most once per cooldown.
      if (!isNoMatchingKey(err) || !this.mayRefresh()) throw err;
      await this.refresh();
      return this.local(header, token);
    }
  };

  private mayRefresh(): boolean {
    const wait = Math.max(this.source.cooldownSeconds * 1000, this.lastFailed ? RETRY_AFTER_FAILURE_MS : 0);
    return this.clock() - this.attemptedAt >= wait;
  }

  /** One fetch at a time; callers arriving meanwhile wait for it. A failure keeps the previous keys. */
  private refresh(): Promise<void> {
    this.pending ??= this.load().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.clock();
    this.fetches++;
    try {
      const jwks = (await this.fetchJwks(this.source)) as JSONWebKeySet;
      const local = createLocalJWKSet(jwks);
      const fingerprint = JSON.stringify(jwks.keys);
      if (fingerprint !== this.fingerprint) {
        this.generation++;
        this.fingerprint = fingerprint;
      }
      this.local = local;
      this.fetchedAt = this.clock();
      this.lastFailed = false;
    } catch (err) {
      this.lastFailed = true;
      const why = err instanceof Error ? err.message : 'unknown error';
      this.log(
        `auth: fetching the JWKS of issuer ${this.issuerName} failed (${why}); ${this.local ? 'keeping the keys fetched before' : 'no keys yet'}`,
      );
    }
  }
}

/** GET the JWKS: no redirects, a size cap, a timeout, an optional private CA and bearer token. */
export const fetchJwksOverHttp: FetchJwks = (source) =>
  new Promise((resolve, reject) => {
    const url = new URL(source.url);
    const headers: Record<string, string> = { accept: 'application/json, application/jwk-set+json' };
    if (source.tokenFile) headers.authorization = `Bearer ${readFileSync(source.tokenFile, 'utf8').trim()}`;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { headers, ca: source.ca, timeout: source.timeoutSeconds * 1000 }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode} from ${url.origin}${url.pathname}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_JWKS_BYTES) req.destroy(new Error('JWKS larger than 1 MiB'));
        else chunks.push(c);
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error('the JWKS is not JSON'));
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${source.timeoutSeconds} s`)));
    req.on('error', reject);
    req.end();
  });
