// Generators for hostile input: names, paths, header values and bodies that mix the valid forms each
// surface expects with the malformed ones the probing in issue #11 found (bad percent-encoding, CR/LF,
// code points above U+00FF, lying encodings, deep JSON, 1xx statuses, lying lengths).
import fc from 'fast-check';
import type { FuzzRequest } from './oracle.ts';

/** Characters that break HTTP framing or encodings, mixed into otherwise plain strings. */
const NASTY = [
  '%',
  '%FF',
  '%E2%82',
  '%00',
  '%2F',
  '%2e%2e',
  '/',
  '//',
  '..',
  ':',
  '\r\n',
  '\u0000',
  '\u00ff',
  '\u2603',
  '\ud83d',
  ' ',
  '?',
  '#',
  '*',
];

export const nasty = (maxLength = 24): fc.Arbitrary<string> =>
  fc
    .array(
      fc.oneof(
        fc.constantFrom(...NASTY),
        fc.string({ maxLength: 6 }),
        fc.string({ unit: 'binary', maxLength: 4 }),
      ),
      {
        maxLength,
      },
    )
    .map((parts) => parts.join(''));

/** A path segment: sometimes what the surface expects, often not. */
export const segment = (valid: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...valid) },
    { weight: 2, arbitrary: nasty(8) },
    { weight: 1, arbitrary: fc.constantFrom(...valid).map((v) => v.toUpperCase()) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(...valid)
        .map((v) => encodeURIComponent(v).replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)),
    },
  );

/** A request target a raw socket can carry: spaces and line breaks would end the request line, so they are encoded. */
export const target = (path: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .tuple(path, fc.option(nasty(12), { nil: undefined }))
    .map(([p, q]) =>
      `${p}${q === undefined ? '' : `?${q}`}`.replace(
        /[^!-~\u0080-\uffff]/g,
        (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
      ),
    );

const FUNCTION_NAMES = [
  'echo',
  'echo:$LATEST',
  'arn:serval:lambda:local:default:function:echo',
  'arn:aws:lambda:local:default:function:echo',
  'arn:aws-cn:lambda:local:default:function:echo',
  'arn:awsfoo:lambda:us-east-1:default:function:echo:1',
  'default:function:echo',
  'missing',
  'x'.repeat(65),
];

export const functionName = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...FUNCTION_NAMES).map(encodeURIComponent) },
    { weight: 2, arbitrary: segment(FUNCTION_NAMES) },
  );

/** Any header value, as latin1 text: valid tokens, control characters, high bytes. */
export const headerValue = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 20 }).map((s) =>
      Buffer.from(s, 'utf8')
        .toString('latin1')
        .replace(/[\r\n]/g, ''),
    ),
    nasty(6).map((s) => s.replace(/[\r\n]/g, '')),
  );

const ENCODINGS = ['gzip', 'br', 'deflate', 'foo', 'identity', 'gzip, br', 'zstd', ''];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/json; charset=klingon',
  'multipart/form-data; boundary=x',
  '*/*',
];

export const commonHeaders = (): fc.Arbitrary<Array<[string, string]>> =>
  fc
    .record({
      encoding: fc.option(fc.constantFrom(...ENCODINGS), { nil: undefined }),
      type: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined }),
      extra: fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), headerValue()), {
        maxLength: 4,
      }),
    })
    .map(({ encoding, type, extra }) => {
      const out: Array<[string, string]> = [];
      if (encoding !== undefined) out.push(['Content-Encoding', encoding]);
      if (type !== undefined) out.push(['Content-Type', type]);
      // Framing stays the oracle's own: a fuzzed Content-Length or Connection would only confuse the exchange.
      return [
        ...out,
        ...extra.filter(([k]) => !/^(content-length|connection|host|transfer-encoding|expect)$/i.test(k)),
      ];
    });

const deepJson = fc.integer({ min: 1, max: 120_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`);

export const body = (): fc.Arbitrary<Buffer> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)) },
    { weight: 2, arbitrary: fc.string({ maxLength: 64 }).map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('{', 'null', '[', '"', '{"a":', '\u00ff').map((s) => Buffer.from(s)),
    },
    { weight: 1, arbitrary: deepJson.map((s) => Buffer.from(s)) },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  );

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
export const method = (usual: string): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(usual) },
    { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
  );

export const request = (
  m: fc.Arbitrary<string>,
  t: fc.Arbitrary<string>,
  headers: fc.Arbitrary<Array<[string, string]>> = commonHeaders(),
  b: fc.Arbitrary<Buffer> = body(),
): fc.Arbitrary<FuzzRequest> => fc.record({ method: m, target: t, headers, body: b });

/** What a function may return to a function URL or an ALB: a mix of valid responses and every kind of wrong one. */
export const functionResponse = (): fc.Arbitrary<unknown> => {
  const status = fc.oneof(
    fc.constantFrom(200, 201, 204, 301, 304, 404, 500, 502, 100, 101, 103, 199, 0, 600, 999),
    fc.integer({ min: -5, max: 1000 }),
    fc.constantFrom('200', 'abc', null, 1.5, true),
  );
  const value = fc.oneof(
    fc.string({ maxLength: 20 }),
    headerValue(),
    nasty(6),
    fc.integer(),
    fc.constant(null),
  );
  const headers = fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'content-length',
        'Content-Length',
        'transfer-encoding',
        'connection',
        'content-type',
        'set-cookie',
        'upgrade',
        'x-a',
      ),
      nasty(6),
    ),
    value,
    { maxKeys: 4 },
  );
  return fc.oneof(
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    {
      weight: 4,
      arbitrary: fc.record(
        {
          statusCode: status,
          statusDescription: fc.oneof(fc.string({ maxLength: 12 }), nasty(6), fc.integer()),
          headers: fc.oneof(headers, fc.constant(null), fc.constant('x')),
          multiValueHeaders: fc.oneof(
            fc.dictionary(fc.string({ maxLength: 8 }), fc.array(value, { maxLength: 3 }), { maxKeys: 3 }),
            fc.constant([]),
          ),
          cookies: fc.oneof(fc.array(value, { maxLength: 3 }), fc.constant('x')),
          body: fc.oneof(
            fc.string({ maxLength: 40 }),
            fc.constant(null),
            fc.integer(),
            fc.base64String({ maxLength: 40 }),
          ),
          isBase64Encoded: fc.oneof(fc.boolean(), fc.constant('true')),
        },
        { requiredKeys: ['statusCode'] },
      ),
    },
  );
};
