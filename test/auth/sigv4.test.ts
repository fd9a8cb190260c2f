// The SigV4 verifier against the AWS SDK's own signer: what the SDK signs verifies, and every alteration,
// stale date, wrong scope, unknown key or malformed header is refused with AWS's exception and words.
import { describe, expect, it } from 'vitest';
import { signRequest, type WireRequest } from '../../apis/sigv4.ts';
import type { AccessKey } from '../../gateway/src/auth/access-keys/access-key.ts';
import { SignatureError } from '../../gateway/src/auth/sigv4/signature-error.ts';
import { SignatureVerifier } from '../../gateway/src/auth/sigv4/verifier.ts';
import { presignUrl, signHeaders, type ToSign } from './sigv4-kit.ts';

const KEY: AccessKey = {
  accessKeyId: 'AKSVTESTTESTTEST0001',
  secretAccessKey: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNl',
  namespace: 'media',
  identity: 'deployer',
  groups: ['ci'],
};
const CREDENTIALS = { accessKeyId: KEY.accessKeyId, secretAccessKey: KEY.secretAccessKey };
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const ORIGIN = 'http://127.0.0.1:8080';

const verifier = (clock = NOW) =>
  new SignatureVerifier({
    region: 'local',
    keys: { get: (id) => (id === KEY.accessKeyId ? KEY : undefined) },
    clock: () => clock,
  });

/** The request the gateway sees: the path and query as sent, header names in lower case. */
function wire(method: string, url: string, headers: Record<string, string>): WireRequest {
  const u = new URL(url);
  const lower: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = [v];
  return { method, url: `${u.pathname}${u.search}`, headers: lower };
}

async function signed(r: Omit<ToSign, 'signingDate'> & { at?: number }) {
  const headers = await signHeaders(CREDENTIALS, { ...r, signingDate: new Date(r.at ?? NOW) });
  return { request: wire(r.method, r.url, headers), body: Buffer.from(r.body ?? '') };
}

function verify(v: SignatureVerifier, request: WireRequest, body: Buffer) {
  return v.finish(v.begin(request), request, body);
}

function refusal(fn: () => unknown): SignatureError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SignatureError) return err;
    throw err;
  }
  throw new Error('expected a SignatureError');
}

const INVOKE = `${ORIGIN}/2015-03-31/functions/arn%3Aaws%3Alambda%3Alocal%3Amedia%3Afunction%3Athumb/invocations?Qualifier=prod`;

describe('what the SDK signs verifies', () => {
  it('a POST with a body, a percent-encoded ARN in the path and a query: the principal of the key', async () => {
    const { request, body } = await signed({
      method: 'POST',
      url: INVOKE,
      headers: { 'content-type': 'application/json', 'x-amz-invocation-type': 'RequestResponse' },
      body: '{"a":1}',
    });
    expect(verify(verifier(), request, body)).toEqual({
      id: 'serval:keys:deployer',
      issuer: 'keys',
      subject: 'deployer',
      namespace: 'media',
      groups: ['ci'],
      claims: {},
    });
  });

  it('a GET whose query needs sorting and encoding (repeated keys, spaces, reserved characters)', async () => {
    const { request, body } = await signed({
      method: 'GET',
      url: `${ORIGIN}/2015-03-31/functions/?MaxItems=5&Marker=a%20b%2Fc&FunctionVersion=ALL&z=2&z=1&empty=`,
    });
    expect(verify(verifier(), request, body).id).toBe('serval:keys:deployer');
  });

  it('with x-amz-content-sha256 signed, as S3-style signers send it', async () => {
    const { createHash } = await import('node:crypto');
    const text = '{"Description":"v"}';
    const { request, body } = await signed({
      method: 'POST',
      url: `${ORIGIN}/2015-03-31/functions/thumb/versions`,
      headers: { 'x-amz-content-sha256': createHash('sha256').update(text).digest('hex') },
      body: text,
    });
    expect(verify(verifier(), request, body).namespace).toBe('media');
  });

  it('4 minutes either side of the gateway clock', async () => {
    for (const at of [NOW - 4 * 60_000, NOW + 4 * 60_000]) {
      const { request, body } = await signed({ method: 'GET', url: `${ORIGIN}/2015-03-31/functions/`, at });
      expect(verify(verifier(), request, body).subject).toBe('deployer');
    }
  });

  it('a presigned URL (X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Signature)', async () => {
    const url = await presignUrl(CREDENTIALS, {
      method: 'GET',
      url: `${ORIGIN}/2015-03-31/functions/thumb/aliases?FunctionVersion=3`,
      signingDate: new Date(NOW - 10 * 60_000),
      expiresIn: 900,
    });
    expect(url).toContain('X-Amz-Signature=');
    const request = wire('GET', url, { host: '127.0.0.1:8080' });
    expect(verify(verifier(), request, Buffer.alloc(0)).id).toBe('serval:keys:deployer');
  });
});

describe("the CLI's signer", () => {
  it('computes the same Authorization header as the SDK', async () => {
    const r = {
      method: 'POST',
      url: `${ORIGIN}/serval/v1/access-keys?x=a%20b`,
      headers: { 'content-type': 'application/json' },
      body: '{"identity":"ci"}',
    };
    const ours = signRequest(CREDENTIALS, r, 'local', new Date(NOW));
    const sdk = await signHeaders(CREDENTIALS, { ...r, signingDate: new Date(NOW) });
    expect(ours.authorization).toBe(sdk.authorization);
    expect(ours['x-amz-date']).toBe('20261201T120000Z');
  });
});

describe('refused as AWS refuses', () => {
  it('an altered signature, body, path, query or signed header: InvalidSignatureException', async () => {
    const base = {
      method: 'POST',
      url: INVOKE,
      headers: { 'x-amz-invocation-type': 'Event' },
      body: '{"a":1}',
    };
    const { request, body } = await signed(base);
    const auth = request.headers.authorization![0]!;
    const last = auth.at(-1) === '0' ? '1' : '0';
    const alterations: [string, WireRequest, Buffer][] = [
      [
        'signature',
        { ...request, headers: { ...request.headers, authorization: [auth.slice(0, -1) + last] } },
        body,
      ],
      ['body', request, Buffer.from('{"a":2}')],
      ['path', { ...request, url: request.url.replace('thumb', 'thumc') }, body],
      ['query', { ...request, url: request.url.replace('prod', 'dev') }, body],
      [
        'signed header',
        { ...request, headers: { ...request.headers, 'x-amz-invocation-type': ['RequestResponse'] } },
        body,
      ],
      ['method', { ...request, method: 'PUT' }, body],
    ];
    for (const [what, req, payload] of alterations) {
      const err = refusal(() => verify(verifier(), req, payload));
      expect([what, err.type, err.status, err.reason]).toEqual([
        what,
        'InvalidSignatureException',
        403,
        'bad-signature',
      ]);
      expect(err.message).toMatch(/^The request signature we calculated does not match/);
    }
  });

  it('a secret replaced under the same key id: the remembered signing key is not used', async () => {
    let current = KEY;
    const v = new SignatureVerifier({ region: 'local', keys: { get: () => current }, clock: () => NOW });
    const { request, body } = await signed({ method: 'GET', url: `${ORIGIN}/2015-03-31/functions/` });
    expect(verify(v, request, body).id).toBe('serval:keys:deployer');
    current = { ...KEY, secretAccessKey: 'cm90YXRlZC1yb3RhdGVkLXJvdGF0ZWQtcm90YXRl' };
    expect(refusal(() => verify(v, request, body)).reason).toBe('bad-signature');
  });

  it('a stale timestamp: "Signature expired: … is now earlier than …"', async () => {
    const { request, body } = await signed({
      method: 'GET',
      url: `${ORIGIN}/2015-03-31/functions/`,
      at: NOW - 6 * 60_000,
    });
    const err = refusal(() => verify(verifier(), request, body));
    expect(err.type).toBe('InvalidSignatureException');
    expect(err.message).toBe(
      'Signature expired: 20261201T115400Z is now earlier than 20261201T115500Z (20261201T120000Z - 5 min.)',
    );
  });

  it('a timestamp too far ahead, and an expired presigned URL', async () => {
    const ahead = await signed({
      method: 'GET',
      url: `${ORIGIN}/2015-03-31/functions/`,
      at: NOW + 6 * 60_000,
    });
    expect(refusal(() => verify(verifier(), ahead.request, ahead.body)).message).toMatch(
      /^Signature not yet current: 20261201T120600Z is still later than 20261201T120500Z/,
    );
    const url = await presignUrl(CREDENTIALS, {
      method: 'GET',
      url: `${ORIGIN}/2015-03-31/functions/`,
      signingDate: new Date(NOW - 301_000),
      expiresIn: 300,
    });
    const err = refusal(() =>
      verify(verifier(), wire('GET', url, { host: '127.0.0.1:8080' }), Buffer.alloc(0)),
    );
    expect([err.type, err.reason]).toEqual(['InvalidSignatureException', 'expired']);
  });

  it('an unknown key: UnrecognizedClientException, "The security token included in the request is invalid."', async () => {
    const headers = await signHeaders(
      { accessKeyId: 'AKSVNOBODYNOBODY0000', secretAccessKey: KEY.secretAccessKey },
      { method: 'GET', url: `${ORIGIN}/2015-03-31/functions/`, signingDate: new Date(NOW) },
    );
    const err = refusal(() => verifier().begin(wire('GET', `${ORIGIN}/2015-03-31/functions/`, headers)));
    expect([err.type, err.status, err.message, err.accessKeyId]).toEqual([
      'UnrecognizedClientException',
      403,
      'The security token included in the request is invalid.',
      'AKSVNOBODYNOBODY0000',
    ]);
  });

  it('a session token is refused clearly, not ignored', async () => {
    const headers = await signHeaders(
      { ...CREDENTIALS, sessionToken: 'FwoGZXIvYXdzEJr' },
      { method: 'GET', url: `${ORIGIN}/2015-03-31/functions/`, signingDate: new Date(NOW) },
    );
    const err = refusal(() => verifier().begin(wire('GET', `${ORIGIN}/2015-03-31/functions/`, headers)));
    expect(err.type).toBe('UnrecognizedClientException');
    expect(err.message).toMatch(/no session token/);
    expect(err.message).not.toContain('FwoGZXIvYXdzEJr');
  });

  it('the wrong region, service or scope date: InvalidSignatureException naming what is wrong', async () => {
    for (const [r, pattern] of [
      [
        { region: 'us-east-1' },
        /scoped to a valid region, not 'us-east-1'; this gateway's region is 'local'/,
      ],
      [{ service: 'sqs' }, /scoped to correct service: 'lambda'/],
    ] as const) {
      const { request } = await signed({ method: 'GET', url: `${ORIGIN}/2015-03-31/functions/`, ...r });
      const err = refusal(() => verifier().begin(request));
      expect(err.type).toBe('InvalidSignatureException');
      expect(err.message).toMatch(pattern);
    }
    const { request } = await signed({ method: 'GET', url: `${ORIGIN}/2015-03-31/functions/` });
    const shifted = { ...request, headers: { ...request.headers, 'x-amz-date': ['20261202T000000Z'] } };
    expect(refusal(() => verifier(Date.UTC(2026, 11, 2)).begin(shifted)).message).toMatch(
      /^Date in Credential scope does not match/,
    );
  });

  it('a payload hash that is not the body, or UNSIGNED-PAYLOAD', async () => {
    for (const declared of ['0'.repeat(64), 'UNSIGNED-PAYLOAD']) {
      const { request, body } = await signed({
        method: 'POST',
        url: `${ORIGIN}/2015-03-31/functions/thumb/versions`,
        headers: { 'x-amz-content-sha256': declared },
        body: '{}',
      });
      const err = refusal(() => verify(verifier(), request, body));
      expect([err.type, err.reason]).toEqual(['InvalidSignatureException', 'payload-mismatch']);
    }
  });

  it('malformed Authorization headers: IncompleteSignatureException, the header never repeated', () => {
    const date = { 'x-amz-date': '20261201T120000Z', host: '127.0.0.1:8080' };
    const credential = `Credential=${KEY.accessKeyId}/20261201/local/lambda/aws4_request`;
    const cases: [string, Record<string, string>, RegExp][] = [
      ['no parameters', { authorization: 'AWS4-HMAC-SHA256', ...date }, /requires 'Credential' parameter/],
      [
        'no signature',
        { authorization: `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=host`, ...date },
        /requires 'Signature'/,
      ],
      [
        'no date',
        { authorization: `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=host, Signature=ab`, host: 'h' },
        /X-Amz-Date/,
      ],
      [
        'short credential',
        { authorization: 'AWS4-HMAC-SHA256 Credential=AK/x, SignedHeaders=host, Signature=ab', ...date },
        /5 slash-delimited/,
      ],
      [
        'host unsigned',
        { authorization: `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=x-amz-date, Signature=ab`, ...date },
        /'Host' must be a 'SignedHeader'/,
      ],
      [
        'bad date',
        {
          authorization: `AWS4-HMAC-SHA256 ${credential}, SignedHeaders=host, Signature=ab`,
          host: 'h',
          'x-amz-date': '2026-12-01',
        },
        /ISO 8601 basic format/,
      ],
      [
        'another algorithm',
        { authorization: `AWS4-ECDSA-P256-SHA256 ${credential}, SignedHeaders=host, Signature=ab`, ...date },
        /only AWS4-HMAC-SHA256/,
      ],
    ];
    for (const [what, headers, pattern] of cases) {
      const err = refusal(() => verifier().begin(wire('GET', `${ORIGIN}/2015-03-31/functions/`, headers)));
      expect([what, err.type, err.status]).toEqual([what, 'IncompleteSignatureException', 403]);
      expect(err.message).toMatch(pattern);
      const parameters = headers.authorization!.slice('AWS4-HMAC-SHA256 '.length);
      if (parameters) expect(err.message).not.toContain(parameters);
    }
  });

  it('a presigned query missing a part, or combined with an Authorization header', () => {
    const partial = `${ORIGIN}/2015-03-31/functions/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab`;
    expect(refusal(() => verifier().begin(wire('GET', partial, { host: 'h' }))).message).toMatch(
      /requires the query parameters X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders/,
    );
    const both = wire('GET', partial, { host: 'h', authorization: 'AWS4-HMAC-SHA256 Credential=x' });
    expect(refusal(() => verifier().begin(both)).message).toMatch(/Only one auth mechanism allowed/);
  });
});
