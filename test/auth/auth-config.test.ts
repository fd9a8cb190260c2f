// The auth settings fail fast: each mistake in SERVAL_AUTH / SERVAL_AUTH_CONFIG stops start-up with a
// message naming the field; good files come out with algorithms pinned and defaults applied.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAuthFile, parseAuthSettings } from '../../gateway/src/auth/auth-config.ts';
import { ConfigError, parseGatewayConfig } from '../../gateway/src/config.ts';
import { testDataRoot } from '../support/serval.ts';

const dir = mkdtempSync(join(testDataRoot(), 'auth-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ecJwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
const ecPrivateJwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });

const issuer = (fields: Record<string, unknown> = {}) => ({
  name: 'corp',
  issuer: 'https://issuer.test',
  audience: 'serval',
  jwksUrl: 'https://issuer.test/jwks.json',
  namespace: { claim: 'tenant' },
  ...fields,
});
const doc = (issuers: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ issuers, ...extra });
const statement = { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: '*' };

describe('SERVAL_AUTH and SERVAL_AUTH_CONFIG', () => {
  it('is off without a config file (the embedded default)', () => {
    expect(parseAuthSettings({}).mode).toBe('off');
    expect(parseGatewayConfig({}).auth.mode).toBe('off');
  });

  it('is on with a config file, unless SERVAL_AUTH=off says otherwise', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, doc([issuer()]));
    expect(parseAuthSettings({ SERVAL_AUTH_CONFIG: file })).toMatchObject({ mode: 'on', source: file });
    expect(parseAuthSettings({ SERVAL_AUTH_CONFIG: file, SERVAL_AUTH: 'off' }).mode).toBe('off');
  });

  it.each([
    [{ SERVAL_AUTH: 'on' }, /SERVAL_AUTH=on needs SERVAL_AUTH_CONFIG/],
    [{ SERVAL_AUTH: 'yes' }, /SERVAL_AUTH must be one of on, off, got "yes"/],
    [{ SERVAL_AUTH_CONFIG: '/nonexistent/auth.yaml' }, /\/nonexistent\/auth.yaml: ENOENT/],
  ])('refuses %o as a ConfigError', (env, message) => {
    expect(() => parseGatewayConfig(env)).toThrow(ConfigError);
    expect(() => parseGatewayConfig(env)).toThrow(message);
  });
});

describe('the auth config file', () => {
  it.each([
    ['not YAML', '{issuers: [', /not valid YAML or JSON/],
    ['no issuers', doc([]), /issuers: Too small/],
    ['an issuer without audience', doc([issuer({ audience: undefined })]), /issuers\.0\.audience/],
    [
      'both jwksUrl and staticKeys',
      doc([issuer({ staticKeys: [rsaPem] })]),
      /needs exactly one of jwksUrl or staticKeys/,
    ],
    ['neither jwksUrl nor staticKeys', doc([issuer({ jwksUrl: undefined })]), /exactly one of jwksUrl/],
    ['a JWKS URL that is not http(s)', doc([issuer({ jwksUrl: 'file:///etc/jwks.json' })]), /jwksUrl/],
    [
      'a shared-secret algorithm',
      doc([issuer({ algorithms: ['HS256'] })]),
      /issuers\.0\.algorithms: HS256 is a shared-secret algorithm/,
    ],
    ['alg none', doc([issuer({ algorithms: ['none'] })]), /"none" is not one of RS256/],
    [
      'a private PEM key',
      doc([issuer({ jwksUrl: undefined, staticKeys: [privatePem] })]),
      /staticKeys\.0: is a private key/,
    ],
    [
      'a private JWK',
      doc([issuer({ jwksUrl: undefined, staticKeys: [ecPrivateJwk] })]),
      /staticKeys\.0: is a private or shared-secret key/,
    ],
    [
      'a symmetric JWK',
      doc([issuer({ jwksUrl: undefined, staticKeys: [{ kty: 'oct', k: 'c2VjcmV0' }] })]),
      /staticKeys\.0: is a private or shared-secret key/,
    ],
    ['garbage as PEM', doc([issuer({ jwksUrl: undefined, staticKeys: ['hello'] })]), /not a PEM public key/],
    ['a clock skew over 300 s', doc([issuer({ clockSkewSeconds: 301 })]), /clockSkewSeconds: Too big/],
    [
      'two issuers with one name',
      doc([issuer(), issuer({ issuer: 'other' })]),
      /issuers\.1\.name: "corp" is used/,
    ],
    ['no namespace mapping', doc([issuer({ namespace: undefined })]), /issuers\.0\.namespace: is required/],
    ['an unknown field', doc([issuer({ audiences: ['x'] })]), /issuers\.0\.audiences/],
    [
      'an identity policy with a Principal',
      doc([issuer()], {
        identityPolicies: [{ namespaces: ['*'], statements: [{ ...statement, Principal: '*' }] }],
      }),
      /statements\.0\.Principal: belongs in resource-based policies/,
    ],
    [
      'an identity policy bound to nobody',
      doc([issuer()], { identityPolicies: [{ statements: [statement] }] }),
      /needs principals, groups or namespaces/,
    ],
    [
      'an identity policy statement without Resource',
      doc([issuer()], {
        identityPolicies: [{ namespaces: ['*'], statements: [{ Effect: 'Allow', Action: 'lambda:*' }] }],
      }),
      /statements\.0\.Resource: is required/,
    ],
    [
      'a group of an unknown issuer',
      doc([issuer()], { identityPolicies: [{ groups: ['partner:admins'], statements: [statement] }] }),
      /groups: no issuer named "partner"/,
    ],
    [
      'an unknown condition operator',
      doc([issuer()], {
        identityPolicies: [
          {
            namespaces: ['*'],
            statements: [{ ...statement, Condition: { StringSorta: { 'jwt:sub': 'x' } } }],
          },
        ],
      }),
      /Condition\.StringSorta: must be one of StringEquals/,
    ],
    [
      'an unknown condition key',
      doc([issuer()], {
        identityPolicies: [
          {
            namespaces: ['*'],
            statements: [{ ...statement, Condition: { StringEquals: { 'aws:username': 'x' } } }],
          },
        ],
      }),
      /aws:username: must be jwt:<claim> or one of/,
    ],
    [
      'a bad CIDR block',
      doc([issuer()], {
        identityPolicies: [
          {
            namespaces: ['*'],
            statements: [{ ...statement, Condition: { IpAddress: { 'serval:SourceIp': '10.0.0.0/33' } } }],
          },
        ],
      }),
      /"10\.0\.0\.0\/33" is not an IP address or CIDR block/,
    ],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseAuthFile(text, join(dir, 'auth.yaml'))).toThrow(message);
  });

  it('pins each static key to the algorithm of its type, and reads PEM files next to the config', () => {
    mkdirSync(join(dir, 'keys'), { recursive: true });
    writeFileSync(join(dir, 'keys', 'ci.pub'), rsaPem);
    const settings = parseAuthFile(
      `
issuers:
  - name: ci
    issuer: ci
    audience: [serval]
    namespace: { fixed: ci }
    staticKeys:
      - { pemFile: keys/ci.pub, kid: ci-1 }
      - ${JSON.stringify(ecJwk)}
`,
      join(dir, 'auth.yaml'),
    );
    const ci = settings.issuers[0]!;
    expect(ci.algorithms.sort()).toEqual(['ES384', 'RS256']);
    expect(ci.keys).toMatchObject({
      kind: 'static',
      keys: [
        { kty: 'RSA', kid: 'ci-1', alg: 'RS256' },
        { kty: 'EC', crv: 'P-384', alg: 'ES384' },
      ],
    });
    expect(ci.clockSkewSeconds).toBe(60);
  });

  it('fills the Kubernetes preset and JWKS defaults', () => {
    const settings = parseAuthFile(
      JSON.stringify({
        issuers: [
          {
            name: 'k8s',
            kubernetes: true,
            issuer: 'https://kubernetes.default.svc.cluster.local',
            audience: 'serval',
            jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks',
          },
        ],
      }),
      join(dir, 'auth.json'),
    );
    expect(settings.issuers[0]).toMatchObject({
      namespace: { claim: ['kubernetes.io', 'namespace'] },
      keys: { kind: 'jwks', cacheMaxAgeSeconds: 600, cooldownSeconds: 30, timeoutSeconds: 5 },
      kubernetes: true,
    });
    expect(settings.issuers[0]!.algorithms).not.toContain('HS256');
  });
});
