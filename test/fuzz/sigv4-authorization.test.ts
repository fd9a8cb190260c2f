// Malformed SigV4 (issue #16): Authorization headers and presigned queries built from valid pieces, broken
// pieces and hostile bytes. The verifier must refuse every one with an AWS signature exception (never
// another error, never a pass), and no message may repeat the caller's signature or header.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccessKey } from '../../gateway/src/auth/access-keys/access-key.ts';
import { SignatureError } from '../../gateway/src/auth/sigv4/signature-error.ts';
import { SignatureVerifier } from '../../gateway/src/auth/sigv4/verifier.ts';
import { headerValue, nasty } from './arbitraries.ts';

const SEED = Number(process.env.SERVAL_FUZZ_SEED ?? 11);
const KEY: AccessKey = {
  accessKeyId: 'AKSVFUZZFUZZFUZZFUZ0',
  secretAccessKey: 'ZnV6ei1zZWNyZXQtZnV6ei1zZWNyZXQtZnV6ei1z',
  namespace: 'default',
  identity: 'fuzz',
  groups: [],
};
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const verifier = new SignatureVerifier({
  region: 'local',
  keys: { get: (id) => (id === KEY.accessKeyId ? KEY : undefined) },
  clock: () => NOW,
});
const AWS_EXCEPTIONS = [
  'InvalidSignatureException',
  'UnrecognizedClientException',
  'IncompleteSignatureException',
];

const piece = (valid: string[]) =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...valid) }, { weight: 2, arbitrary: nasty(8) });
const credential = fc
  .tuple(
    piece([KEY.accessKeyId, 'AKSVNOBODYNOBODY0000', '']),
    piece(['20261201', '20261130', '2026-12-01']),
    piece(['local', 'us-east-1']),
    piece(['lambda', 'LAMBDA', 's3']),
    piece(['aws4_request', 'aws4']),
    fc.constantFrom('/', '//', '%2F'),
  )
  .map(([k, d, r, s, t, sep]) => [k, d, r, s, t].join(sep));
const signature = piece(['a'.repeat(64), '0'.repeat(63), 'Z'.repeat(64), '']);
const signedHeaders = piece(['host;x-amz-date', 'host', 'x-amz-date', 'Host;X-Amz-Date', 'host;;x']);
const separator = fc.constantFrom(', ', ',', ' , ', ';', ' ');
const authorization = fc.oneof(
  fc
    .tuple(
      piece(['AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512', 'aws4-hmac-sha256', 'AWS4-']),
      fc.constantFrom(' ', '  ', '\t', ''),
      fc.shuffledSubarray(['Credential', 'SignedHeaders', 'Signature', 'Credential', 'Extra']),
      credential,
      signedHeaders,
      signature,
      separator,
    )
    .map(([alg, gap, names, c, h, sig, sep]) => {
      const value = { Credential: c, SignedHeaders: h, Signature: sig, Extra: 'x' } as Record<string, string>;
      return `${alg}${gap}${names.map((n) => `${n}=${value[n]}`).join(sep)}`;
    }),
  headerValue().map((v) => `AWS4-${v}`),
);
const amzDate = piece(['20261201T120000Z', '20261201T115000Z', '20261301T120000Z', '20261201T250000Z', '']);

describe('fuzz: malformed SigV4', () => {
  it('Authorization headers: refused with an AWS signature exception, nothing echoed', () => {
    fc.assert(
      fc.property(authorization, amzDate, fc.boolean(), (auth, date, twice) => {
        const headers: Record<string, string[]> = {
          host: ['127.0.0.1:8080'],
          authorization: twice ? [auth, auth] : [auth],
        };
        if (date) headers['x-amz-date'] = [date];
        const request = { method: 'POST', url: '/2015-03-31/functions/echo/invocations', headers };
        let error: unknown;
        try {
          verifier.finish(verifier.begin(request), request, Buffer.from('{}'));
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(SignatureError);
        const e = error as SignatureError;
        expect(AWS_EXCEPTIONS).toContain(e.type);
        expect(e.status).toBe(403);
        const parameters = auth.slice(auth.indexOf(' ') + 1);
        if (parameters.length > 8) expect(e.message).not.toContain(parameters);
      }),
      { seed: SEED, numRuns: 3000 },
    );
  });

  it('presigned queries: refused with an AWS signature exception', () => {
    const param = (name: string, value: fc.Arbitrary<string>) =>
      fc.option(
        value.map((v) => `${name}=${encodeURIComponent(v.toWellFormed())}`),
        { nil: undefined },
      );
    fc.assert(
      fc.property(
        param('X-Amz-Algorithm', piece(['AWS4-HMAC-SHA256', 'HMAC'])),
        param('X-Amz-Credential', credential),
        param('X-Amz-Date', amzDate),
        param('X-Amz-Expires', piece(['300', '0', '604801', '-1', '1e3'])),
        param('X-Amz-SignedHeaders', signedHeaders),
        param('X-Amz-Signature', signature),
        (...params) => {
          const query = params.filter((p) => p !== undefined).join('&');
          const request = { method: 'GET', url: `/2015-03-31/functions/?${query}`, headers: { host: ['h'] } };
          let error: unknown;
          try {
            verifier.finish(verifier.begin(request), request, Buffer.alloc(0));
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(SignatureError);
          expect(AWS_EXCEPTIONS).toContain((error as SignatureError).type);
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
