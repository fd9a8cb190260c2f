import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_BYTES, onLines } from './line-reader.ts';

function collect(chunks: Array<string | Buffer>): Promise<string[]> {
  const input = new PassThrough();
  const lines: string[] = [];
  onLines(input, (l) => lines.push(l));
  return new Promise((resolve) => {
    input.on('end', () => setImmediate(() => resolve(lines)));
    for (const c of chunks) input.write(c);
    input.end();
  });
}

describe('onLines', () => {
  it('splits on newlines across chunk boundaries, drops CR, and keeps a last line without a newline', async () => {
    expect(await collect(['START a\nEN', 'D a\r\nREP', 'ORT a\n\nlast'])).toEqual([
      'START a',
      'END a',
      'REPORT a',
      '',
      'last',
    ]);
  });

  it('ends a line at a lone CR as readline does (a multi-line log message), and at a CRLF split between chunks', async () => {
    expect(await collect(['first\rsecond\rthird\n', 'a\r', '\nb\r', 'c\n'])).toEqual([
      'first',
      'second',
      'third',
      'a',
      'b',
      'c',
    ]);
  });

  it('keeps a multi-byte character split between chunks whole', async () => {
    const bytes = Buffer.from('héllo\n');
    expect(await collect([bytes.subarray(0, 2), bytes.subarray(2)])).toEqual(['héllo']);
  });

  it('passes a line without a newline on in bounded pieces instead of holding it whole', async () => {
    const big = 'x'.repeat(64 * 1024);
    const lines = await collect(Array.from({ length: 10 }, () => big));
    expect(lines.join('')).toBe(big.repeat(10));
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(MAX_LINE_BYTES + 64 * 1024);
  });
});
