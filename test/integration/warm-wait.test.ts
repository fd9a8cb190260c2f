// Calls wait briefly for a busy environment before another is started (ADR-36): a fast function under
// many callers keeps a few environments, and slow calls still each get an environment of their own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlineNode, startServal, type TestServal } from '../support/serval.ts';

// Each environment names itself: sandboxed environments all see themselves as pid 1.
const sleepy = (name: string) =>
  inlineNode(
    name,
    `const id = crypto.randomUUID();
export const handler = async (event) => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, event.ms));
  return { id, start, end: Date.now() };
};
`,
    { timeoutSeconds: 60 },
  );

async function callMany(serval: TestServal, name: string, callers: number, rounds: number, ms: number) {
  const done: Array<{ id: string; start: number; end: number }> = [];
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = 0; i < rounds; i++) {
        const res = await serval.invoke(name, { ms });
        expect(res.status, res.text).toBe(200);
        done.push(res.json() as { id: string; start: number; end: number });
      }
    }),
  );
  return done;
}

describe('many callers of a fast function', () => {
  let serval: TestServal;
  beforeAll(async () => {
    // A wait longer than any cold start, so that even a very slow machine keeps to the two eager ones.
    serval = await startServal({
      functions: [sleepy('fast')],
      config: { eagerEnvironmentsPerFunction: 2, warmWaitMs: 60_000, environmentStartTimeoutSeconds: 120 },
    });
  });
  afterAll(() => serval?.stop());

  it('are served by the eager environments instead of one environment each', async () => {
    const runs = await callMany(serval, 'fast', 16, 8, 0);
    expect(runs).toHaveLength(128);
    // Without the wait every one of the 16 callers got an environment of its own.
    expect(new Set(runs.map((r) => r.id)).size).toBe(2);
  }, 120_000);
});

describe('slow calls beyond the eager environments', () => {
  let serval: TestServal;
  beforeAll(async () => {
    serval = await startServal({
      functions: [sleepy('slow')],
      config: { eagerEnvironmentsPerFunction: 2, warmWaitMs: 100 },
    });
  });
  afterAll(() => serval?.stop());

  it('still run at the same time, each in an environment of its own', async () => {
    const runs = await callMany(serval, 'slow', 6, 1, 8000);
    expect(new Set(runs.map((r) => r.id)).size).toBe(6);
    // All six were running at one moment: the last to start began before the first to end finished.
    expect(Math.max(...runs.map((r) => r.start))).toBeLessThan(Math.min(...runs.map((r) => r.end)));
  }, 90_000);
});
