import { describe, expect, it } from 'vitest';
import { randomHex } from './random-hex.ts';

describe('randomHex', () => {
  it('gives lower-case hex of twice the byte count', () => {
    expect(randomHex(12)).toMatch(/^[0-9a-f]{24}$/);
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('never hands out the same bytes twice, across refills of its pool', () => {
    // 20,000 trace ids span about sixty refills of the 4 KiB pool.
    const ids = Array.from({ length: 20_000 }, () => randomHex(12));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('refuses more bytes than its pool holds instead of repeating them', () => {
    expect(() => randomHex(4097)).toThrow(RangeError);
  });
});
