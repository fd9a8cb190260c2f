// The pure parts of the deployment engine: windows of counters, the p99 a threshold compares, how a hook's
// answer reads, and PromQL placeholders.
import { describe, expect, it } from 'vitest';
import { type CounterSample, quantileMs, since } from './counters.ts';
import { hookOutcome } from './hooks.ts';
import { expandPlaceholders } from './prometheus-query.ts';

const sample = (invocations: number, errors: number, buckets: Array<[number, number]>): CounterSample => ({
  invocations,
  errors,
  throttles: 0,
  durationBuckets: new Map(buckets),
});

describe('counter windows', () => {
  it('subtracts the step baseline, bucket by bucket', () => {
    const before = sample(10, 1, [
      [0.1, 8],
      [1, 10],
      [Infinity, 10],
    ]);
    const after = sample(30, 6, [
      [0.1, 9],
      [1, 25],
      [Infinity, 30],
    ]);
    expect(since(before, after)).toEqual(
      sample(20, 5, [
        [0.1, 1],
        [1, 15],
        [Infinity, 20],
      ]),
    );
  });

  it('interpolates the quantile within its bucket as histogram_quantile does', () => {
    // 100 calls: 50 up to 100 ms, 50 more up to 1 s. The 99th is 98 % of the way through the second bucket.
    const buckets = new Map([
      [0.1, 50],
      [1, 100],
      [Infinity, 100],
    ]);
    expect(quantileMs(buckets, 0.99)).toBeCloseTo(100 + 900 * (49 / 50), 6);
    expect(quantileMs(buckets, 0.5)).toBeCloseTo(100, 6);
  });

  it('puts a quantile in the +Inf bucket at the highest finite bound, and has none without samples', () => {
    expect(
      quantileMs(
        new Map([
          [1, 0],
          [Infinity, 5],
        ]),
        0.99,
      ),
    ).toBe(1000);
    expect(
      quantileMs(
        new Map([
          [1, 0],
          [Infinity, 0],
        ]),
        0.99,
      ),
    ).toBeUndefined();
  });
});

describe('hook answers', () => {
  const body = (v: unknown) => Buffer.from(JSON.stringify(v));
  it('passes only on Succeeded', () => {
    expect(hookOutcome('h', undefined, body({ status: 'Succeeded' }))).toEqual({ ok: true });
    expect(hookOutcome('h', undefined, body({ Status: 'Succeeded' }))).toEqual({ ok: true });
    expect(hookOutcome('h', undefined, body('Succeeded'))).toEqual({ ok: true });
  });

  it('fails on Failed, a function error, or anything else, and says which', () => {
    expect(hookOutcome('h', undefined, body({ status: 'Failed' }))).toEqual({
      ok: false,
      reason: 'hook h reported Failed',
    });
    expect(hookOutcome('h', 'Sandbox.Timedout', body({}))).toEqual({
      ok: false,
      reason: 'hook h failed with Sandbox.Timedout',
    });
    const other = hookOutcome('h', undefined, body({ ok: true }));
    expect(other).toMatchObject({ ok: false });
    expect(!other.ok && other.reason).toMatch(/answered \{"ok":true\}; expected \{"status":"Succeeded"\}/);
    expect(hookOutcome('h', undefined, Buffer.from('not json'))).toMatchObject({ ok: false });
  });
});

describe('PromQL placeholders', () => {
  it('fills in the target and leaves PromQL braces alone', () => {
    const q =
      'rate(x{function="{{function}}",version="{{version}}",alias="{{alias}}",namespace="{{namespace}}"}[1m]) > {{other}}';
    expect(expandPlaceholders(q, { namespace: 'ns', function: 'f', alias: 'live', version: '3' })).toBe(
      'rate(x{function="f",version="3",alias="live",namespace="ns"}[1m]) > {{other}}',
    );
  });
});
