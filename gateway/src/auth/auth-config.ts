// The gateway's auth settings: SERVAL_AUTH and the file SERVAL_AUTH_CONFIG names (issuers, identity
// policies), parsed and checked once at start-up so a mistake stops the gateway with a clear message.
import { createPublicKey, type JsonWebKey, X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { PolicyStatementSchema } from '../../../apis/function.ts';
import { ACCESS_KEY_ISSUER } from './access-keys/access-key.ts';
import type { IdentityPolicy } from './policy.ts';

/** Only public-key algorithms: the gateway never holds a key that could also sign. */
export const ASYMMETRIC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export const MAX_CLOCK_SKEW_SECONDS = 300;

export interface JwksKeySource {
  kind: 'jwks';
  url: string;
  cacheMaxAgeSeconds: number;
  cooldownSeconds: number;
  timeoutSeconds: number;
  /** PEM CA bundle for an https JWKS URL with a private CA (the Kubernetes API server's). */
  ca?: string | undefined;
  /** A bearer token file sent with each JWKS fetch, read afresh each time (projected tokens rotate). */
  tokenFile?: string | undefined;
}

export interface StaticKeySource {
  kind: 'static';
  keys: JsonWebKey[];
}

export interface IssuerSettings {
  /** Short name used in principal ids: `serval:<name>:<subject>`. */
  name: string;
  /** The exact `iss` claim. */
  issuer: string;
  audiences: string[];
  /** Accepted `alg` values, pinned per issuer. */
  algorithms: string[];
  clockSkewSeconds: number;
  keys: JwksKeySource | StaticKeySource;
  /** Where the caller's namespace comes from: a claim (path into nested objects) or one fixed namespace. */
  namespace: { claim: string[] } | { fixed: string };
  groupsClaim: string[];
  /** Kubernetes service-account tokens: namespace from `kubernetes.io`, groups as the API server assigns them. */
  kubernetes: boolean;
}

export interface AuthSettings {
  /** `off` only where the embedded default allows it; the gateway then warns at start-up. */
  mode: 'on' | 'off';
  /** The file the settings came from. */
  source: string | undefined;
  issuers: IssuerSettings[];
  identityPolicies: IdentityPolicy[];
}

export class AuthConfigError extends Error {}

export const AUTH_OFF: AuthSettings = { mode: 'off', source: undefined, issuers: [], identityPolicies: [] };

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const claimPath = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const stringList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const staticKey = z.union([
  z.string().min(1).describe('a PEM public key or certificate'),
  z
    .object({
      pem: z.string().optional(),
      pemFile: z.string().optional(),
      kid: z.string().optional(),
      alg: z.string().optional(),
    })
    .strict()
    .refine(
      (k) => (k.pem === undefined) !== (k.pemFile === undefined),
      'needs exactly one of pem or pemFile',
    ),
  z.looseObject({ kty: z.string() }),
]);

const issuerSchema = z
  .object({
    name: z.string().regex(NAME, 'must be lower-case letters, digits and "-"'),
    issuer: z.string().min(1),
    audience: stringList,
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    jwksCaFile: z.string().optional(),
    jwksTokenFile: z.string().optional(),
    jwksCacheMaxAgeSeconds: z.number().min(1).max(86_400).default(600),
    jwksCooldownSeconds: z.number().min(0).max(3600).default(30),
    jwksTimeoutSeconds: z.number().min(0.1).max(60).default(5),
    staticKeys: z.array(staticKey).min(1).optional(),
    algorithms: z.array(z.string()).min(1).optional(),
    clockSkewSeconds: z.number().int().min(0).max(MAX_CLOCK_SKEW_SECONDS).default(60),
    kubernetes: z.boolean().default(false),
    namespace: z
      .union([
        z.object({ claim: claimPath }).strict(),
        z.object({ fixed: z.string().regex(NAME, 'must be a namespace name') }).strict(),
      ])
      .optional(),
    groupsClaim: claimPath.default('groups'),
  })
  .strict()
  .refine((i) => (i.jwksUrl === undefined) !== (i.staticKeys === undefined), {
    message: 'needs exactly one of jwksUrl or staticKeys',
  })
  .refine((i) => i.namespace !== undefined || i.kubernetes, {
    path: ['namespace'],
    message: 'is required ({claim: <name>} or {fixed: <namespace>}) unless kubernetes: true',
  });

const identityPolicySchema = z
  .object({
    name: z.string().max(128).optional(),
    principals: z.array(z.string().min(1)).optional(),
    groups: z.array(z.string().regex(/^[a-z0-9-]+:.+$/, 'must be <issuer>:<group>')).optional(),
    namespaces: z.array(z.string().min(1)).optional(),
    statements: z
      .array(
        PolicyStatementSchema.refine((s) => s.Principal === undefined, {
          path: ['Principal'],
          message: 'belongs in resource-based policies; an identity policy binds callers instead',
        }).refine((s) => s.Resource !== undefined, { path: ['Resource'], message: 'is required' }),
      )
      .min(1),
  })
  .strict()
  .refine((p) => [p.principals, p.groups, p.namespaces].some((x) => x !== undefined && x.length > 0), {
    message: 'needs principals, groups or namespaces to bind its statements to',
  });

const fileSchema = z
  .object({
    issuers: z.array(issuerSchema).min(1),
    identityPolicies: z.array(identityPolicySchema).default([]),
  })
  .strict();

/** Reads SERVAL_AUTH and SERVAL_AUTH_CONFIG. Without a config file auth is off (the embedded default). */
export function parseAuthSettings(env: NodeJS.ProcessEnv): AuthSettings {
  const mode = env.SERVAL_AUTH || undefined;
  if (mode !== undefined && mode !== 'on' && mode !== 'off') {
    throw new AuthConfigError(`SERVAL_AUTH must be one of on, off, got "${mode}"`);
  }
  const file = env.SERVAL_AUTH_CONFIG || undefined;
  if (!file) {
    if (mode === 'on') {
      throw new AuthConfigError('SERVAL_AUTH=on needs SERVAL_AUTH_CONFIG, the file that lists token issuers');
    }
    return AUTH_OFF;
  }
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AuthConfigError(
      `SERVAL_AUTH_CONFIG ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`,
    );
  }
  return { ...parseAuthFile(text, path), mode: mode ?? 'on' };
}

/** Parses an auth config document (YAML or JSON); relative file names resolve against its directory. */
export function parseAuthFile(text: string, path: string): AuthSettings {
  const fail = (where: string, message: string): never => {
    throw new AuthConfigError(`SERVAL_AUTH_CONFIG ${path}: ${where ? `${where}: ` : ''}${message}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return fail('', `not valid YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = fileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    return fail([...issue.path, ...keys].join('.'), issue.message);
  }
  const names = new Set<string>();
  const dir = dirname(path);
  const issuers = parsed.data.issuers.map((raw, i): IssuerSettings => {
    const at = (field: string) => `issuers.${i}.${field}`;
    if (names.has(raw.name)) fail(at('name'), `"${raw.name}" is used by another issuer`);
    if (raw.name === ACCESS_KEY_ISSUER) {
      fail(at('name'), `"${ACCESS_KEY_ISSUER}" is reserved for Serval access keys (serval:keys:<identity>)`);
    }
    names.add(raw.name);
    const configured = raw.algorithms?.map((alg) => checkAlgorithm(alg, (m) => fail(at('algorithms'), m)));
    const keys = raw.staticKeys
      ? staticKeys(raw.staticKeys, configured, dir, (j, m) => fail(at(`staticKeys.${j}`), m))
      : jwksSource(raw, dir, (field, m) => fail(at(field), m));
    const inferred =
      keys.kind === 'static'
        ? keys.keys.map((k) => k.alg).filter((a): a is string => typeof a === 'string')
        : [];
    return {
      name: raw.name,
      issuer: raw.issuer,
      audiences: typeof raw.audience === 'string' ? [raw.audience] : raw.audience,
      algorithms: configured ?? (inferred.length > 0 ? [...new Set(inferred)] : [...ASYMMETRIC_ALGORITHMS]),
      clockSkewSeconds: raw.clockSkewSeconds,
      keys,
      namespace:
        raw.namespace === undefined
          ? { claim: ['kubernetes.io', 'namespace'] }
          : 'fixed' in raw.namespace
            ? raw.namespace
            : { claim: path_(raw.namespace.claim) },
      groupsClaim: path_(raw.groupsClaim),
      kubernetes: raw.kubernetes,
    };
  });
  const identityPolicies = parsed.data.identityPolicies.map((p, i) => {
    for (const group of p.groups ?? []) {
      const issuer = group.slice(0, group.indexOf(':'));
      if (!names.has(issuer) && issuer !== ACCESS_KEY_ISSUER) {
        fail(`identityPolicies.${i}.groups`, `no issuer named "${issuer}"`);
      }
    }
    return p;
  });
  return { mode: 'on', source: path, issuers, identityPolicies };
}

const path_ = (p: string | string[]) => (typeof p === 'string' ? [p] : p);

function checkAlgorithm(alg: string, fail: (message: string) => never): string {
  if ((ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) return alg;
  if (/^HS\d+$/.test(alg)) {
    return fail(`${alg} is a shared-secret algorithm; only public-key algorithms are accepted`);
  }
  return fail(`"${alg}" is not one of ${ASYMMETRIC_ALGORITHMS.join(', ')}`);
}

function jwksSource(
  raw: z.infer<typeof issuerSchema>,
  dir: string,
  fail: (field: string, message: string) => never,
): JwksKeySource {
  let ca: string | undefined;
  if (raw.jwksCaFile) {
    try {
      ca = readFileSync(resolve(dir, raw.jwksCaFile), 'utf8');
    } catch {
      fail('jwksCaFile', `cannot read ${resolve(dir, raw.jwksCaFile)}`);
    }
  }
  const tokenFile = raw.jwksTokenFile ? resolve(dir, raw.jwksTokenFile) : undefined;
  if (tokenFile) {
    try {
      accessSync(tokenFile, constants.R_OK);
    } catch {
      fail('jwksTokenFile', `cannot read ${tokenFile}`);
    }
  }
  return {
    kind: 'jwks',
    url: raw.jwksUrl!,
    cacheMaxAgeSeconds: raw.jwksCacheMaxAgeSeconds,
    cooldownSeconds: raw.jwksCooldownSeconds,
    timeoutSeconds: raw.jwksTimeoutSeconds,
    ca,
    tokenFile,
  };
}

/** Static keys become public JWKs; each is pinned to one algorithm unless the issuer lists its own. */
function staticKeys(
  entries: z.infer<typeof staticKey>[],
  configured: string[] | undefined,
  dir: string,
  fail: (index: number, message: string) => never,
): StaticKeySource {
  const keys = entries.map((entry, j): JsonWebKey => {
    let jwk: JsonWebKey;
    let kid: string | undefined;
    let alg: string | undefined;
    if (typeof entry === 'object' && 'kty' in entry) {
      const { d, k, ...rest } = entry as JsonWebKey & { k?: string };
      if (d !== undefined || k !== undefined || entry.kty === 'oct') {
        fail(j, 'is a private or shared-secret key; give only the public key');
      }
      jwk = rest;
      kid = typeof entry.kid === 'string' ? entry.kid : undefined;
      alg = typeof entry.alg === 'string' ? entry.alg : undefined;
    } else if (typeof entry === 'string') {
      jwk = pemToJwk(entry, (m) => fail(j, m));
    } else {
      let pem = entry.pem ?? '';
      if (entry.pemFile) {
        try {
          pem = readFileSync(resolve(dir, entry.pemFile), 'utf8');
        } catch {
          fail(j, `cannot read ${resolve(dir, entry.pemFile)}`);
        }
      }
      jwk = pemToJwk(pem, (m) => fail(j, m));
      ({ kid, alg } = entry);
    }
    if (alg !== undefined) checkAlgorithm(alg, (m) => fail(j, m));
    alg ??= configured ? undefined : inferAlgorithm(jwk, (m) => fail(j, m));
    if (alg && configured && !configured.includes(alg))
      fail(j, `alg ${alg} is not in the issuer's algorithms`);
    return {
      ...jwk,
      ...(kid !== undefined ? { kid } : {}),
      ...(alg !== undefined ? { alg } : {}),
      use: 'sig',
    };
  });
  return { kind: 'static', keys };
}

function pemToJwk(pem: string, fail: (message: string) => never): JsonWebKey {
  if (/PRIVATE KEY-----/.test(pem)) return fail('is a private key; give only the public key or certificate');
  try {
    const key = /BEGIN CERTIFICATE/.test(pem) ? new X509Certificate(pem).publicKey : createPublicKey(pem);
    return key.export({ format: 'jwk' });
  } catch {
    return fail('is not a PEM public key or certificate');
  }
}

function inferAlgorithm(jwk: JsonWebKey, fail: (message: string) => never): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') {
    const alg = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? ''];
    if (alg) return alg;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return fail(`cannot infer an algorithm for a ${jwk.kty ?? 'typeless'} ${jwk.crv ?? ''} key; set alg`);
}
