// Admission under load (reference §8): reserved concurrency is exact, the excess gets 429 with the
// right Reason, and nothing turns into a 5xx.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'limited',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'sleepy'),
        spec: { reservedConcurrency: 10 },
      },
      {
        name: 'disabled',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'sleepy'),
        spec: { reservedConcurrency: 0 },
      },
      {
        name: 'greedy',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'sleepy'),
        spec: { reservedConcurrency: 950 },
      },
    ],
  });
});
afterAll(() => serval.stop());

function maxOverlap(runs: Array<{ start: number; end: number }>): number {
  const edges = runs.flatMap((r) => [
    [r.start, 1],
    [r.end, -1],
  ]);
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!); // an end before a start at the same instant
  let now = 0;
  let max = 0;
  for (const [, delta] of edges) {
    now += delta!;
    max = Math.max(max, now);
  }
  return max;
}

describe('admission', () => {
  it('reserved 10 with 100 concurrent callers: at most 10 run at once, the rest get 429, no 5xx', async () => {
    const calls = await Promise.all(Array.from({ length: 100 }, () => serval.invoke('limited', { ms: 200 })));
    const statuses = calls.map((c) => c.status);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    const ok = calls.filter((c) => c.status === 200);
    const throttled = calls.filter((c) => c.status === 429);
    expect(ok.length).toBeGreaterThanOrEqual(10);
    expect(throttled.length).toBeGreaterThan(0);
    for (const t of throttled) {
      expect(t.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
      expect(t.headers.get('retry-after')).toBe('1');
      expect(t.json()).toEqual({
        Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
        Type: 'User',
        message: 'Rate Exceeded.',
      });
    }
    const runs = ok.map((c) => c.json() as { start: number; end: number; runtime: string });
    expect(maxOverlap(runs)).toBeLessThanOrEqual(10);
    expect(new Set(runs.map((r) => r.runtime)).size).toBeLessThanOrEqual(10);
  });

  it('frees the units as invocations finish', async () => {
    const res = await serval.invoke('limited', { ms: 1 });
    expect(res.status).toBe(200);
  });

  it('throttles every call of a function reserved at 0', async () => {
    const res = await serval.invoke('disabled', {});
    expect(res.status).toBe(429);
    expect(res.json()).toMatchObject({ Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' });
  });

  it('does not serve a function whose reservation would leave less than 100 unreserved, and says why', async () => {
    const res = await serval.invoke('greedy', {});
    expect(res.status).toBe(404);
    expect(serval.gatewayLog()).toContainEqual(
      expect.stringMatching(/skipped .*spec\.reservedConcurrency: .*minimum value of \[100\]/),
    );
  });
});
