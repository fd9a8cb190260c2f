// The chunked decoder against bodies cut at every possible place: the same data and the same end whatever
// the reads' boundaries, and the framings a runtime must not send are refused.
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from './chunked-decoder.ts';

/** Feeds `body` in the given pieces; what the decoder made of it, and where (in `body`) it said it ended. */
function decode(body: Buffer, cuts: number[]) {
  const decoder = new ChunkedDecoder();
  const data: Buffer[] = [];
  const trailer: Buffer[] = [];
  const events = {
    data: (s: Buffer) => data.push(Buffer.from(s)),
    trailer: (s: Buffer) => trailer.push(Buffer.from(s)),
  };
  let end = -1;
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    const piece = body.subarray(from, cut);
    const at = decoder.feed(piece, 0, events);
    if (decoder.done && end < 0) end = from + at;
    from = cut;
    if (decoder.done || decoder.broken) break;
  }
  return { data: Buffer.concat(data).toString(), trailer: Buffer.concat(trailer).toString(), end, decoder };
}

const BODY = Buffer.from(
  '5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nLambda-Runtime-Function-Error-Type: X\r\n\r\nNEXT',
);

describe('ChunkedDecoder', () => {
  it('finds the same data, trailer and end wherever the body is cut (every one and two cuts)', () => {
    const whole = decode(BODY, []);
    expect(whole).toMatchObject({
      data: 'helloabcdefghijklmnopqrstuvwxyz',
      trailer: 'Lambda-Runtime-Function-Error-Type: X\r\n\r\n',
      end: BODY.length - 4,
    });
    for (let a = 1; a < BODY.length; a++) {
      expect(decode(BODY, [a])).toMatchObject({ data: whole.data, trailer: whole.trailer, end: whole.end });
      for (let b = a + 1; b < BODY.length; b += 7)
        expect(decode(BODY, [a, b])).toMatchObject({ data: whole.data, end: whole.end });
    }
  });

  it('ends at once after a last chunk with no trailer', () => {
    expect(decode(Buffer.from('0\r\n\r\nGET'), [])).toMatchObject({ data: '', trailer: '\r\n', end: 5 });
  });

  for (const [what, body] of [
    ['a size that is not hex', 'g\r\n'],
    ['an empty size', '\r\n'],
    ['a bare LF after the size', '3\nabc\r\n'],
    ['data longer than its size', '2\r\nabc\r\n'],
    ['a control character in an extension', '2;a\u0001\r\nab\r\n'],
    ['more than 15 hex digits', `${'1'.repeat(16)}\r\n`],
  ] as const)
    it(`refuses ${what}`, () => {
      const { decoder } = decode(Buffer.from(body), []);
      expect(decoder.broken).toBe(true);
      expect(decoder.done).toBe(false);
    });
});
