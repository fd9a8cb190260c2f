// The Runtime API of a multi-concurrency environment (ADR-42), driven by a real custom runtime that polls
// /next from AWS_LAMBDA_MAX_CONCURRENCY workers: each poller gets an invocation of its own, an answer goes
// to the invocation its request id names whichever worker sends it, and ids never handed out are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';
import { until } from '../support/until.ts';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'concurrent-probe',
        runtime: 'provided',
        codePath: fixture('provided/concurrent-probe'),
        timeoutSeconds: 60,
        spec: { maxConcurrencyPerEnvironment: 3 },
      },
    ],
    config: { environmentStartTimeoutSeconds: 120 },
  });
});
afterAll(() => serval.stop());

describe('multi-concurrent Runtime API', () => {
  it('matches each answer to its invocation by request id, whichever worker sends it', async () => {
    const first = serval.invoke('concurrent-probe', { scenario: 'hold', tag: 'a' });
    const second = serval.invoke('concurrent-probe', { scenario: 'hold', tag: 'b' });
    // Both held invocations are with the runtime's workers before the third comes.
    const held = () => serval.logs('concurrent-probe').filter((l) => /^held [ab]$/.test(l)).length;
    await until(() => held() === 2, 'both invocations to be held');
    const third = await serval.invoke('concurrent-probe', { scenario: 'answer-held' });
    expect(third.status, third.text).toBe(200);
    const answer = third.json() as { answered: string[]; answeredBy: number; workers: number };
    expect(answer.workers).toBe(3);
    expect([...answer.answered].sort()).toEqual(['a', 'b']);
    for (const [call, tag] of [
      [await first, 'a'],
      [await second, 'b'],
    ] as const) {
      expect(call.status, call.text).toBe(200);
      // Answered by the third invocation's worker, yet each caller got the answer for its own id.
      expect(call.json()).toEqual({ tag, answeredBy: answer.answeredBy, workers: 3 });
    }
  }, 120_000);

  it('refuses an id it never handed out, a spent id, and /init/error once a worker polled', async () => {
    const res = await serval.invoke('concurrent-probe', { scenario: 'refusals' });
    expect(res.status, res.text).toBe(200);
    const { stale, initError } = res.json() as Record<
      string,
      { status: number; body: { errorType: string } }
    >;
    expect(stale).toEqual({
      status: 400,
      body: { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' },
    });
    expect(initError!.status).toBe(403);
    expect(initError!.body.errorType).toBe('InvalidStateTransition');
    // The runtime records what its second answer got after the first one has gone back to the caller.
    let reports: Array<Record<string, { status: number; body: unknown }>> = [];
    await until(async () => {
      const report = await serval.invoke('concurrent-probe', { scenario: 'report' });
      reports = report.json() as typeof reports;
      return reports.length > 0;
    }, 'the runtime to record its second answer');
    const [{ first, again }] = reports as [Record<string, { status: number; body: unknown }>];
    expect(first!.status).toBe(202);
    expect(again).toEqual({
      status: 400,
      body: { errorType: 'InvalidRequestID', errorMessage: 'Invalid request ID' },
    });
  }, 120_000);
});
