// An in-process Node environment whose handler overran its deadline where its own event loop could not end
// it (ADR-57): the local provider reads the call ledger, tells the supervisor, which kills Node, and the
// post-mortem answers with Lambda's Sandbox.Timedout. Sandboxed (the supervisor is PID 1 of its namespace,
// found as bwrap's one child) and not (the supervisor is the provider's own child).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, inlineNode, startServal, type TestServal } from '../support/serval.ts';

/** Two calls meet inside the process, then one spins on the loop and the other waits on nothing. */
const SPIN_BESIDE = `let inside = 0;
export const handler = async (event) => {
  inside++;
  while (inside < 2) await new Promise((r) => setTimeout(r, 5));
  if (event.spin) for (;;) {}
  return new Promise(() => {});
};`;
const SPIN_IN_INIT = 'for (;;) {}\nexport const handler = async () => "never";\n';

const timedOut = (requestId: string | null) => ({
  errorType: 'Sandbox.Timedout',
  errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds`,
});

describe.each(['auto', 'off'] as const)('in-process deadlines, SERVAL_LOCAL_ISOLATION=%s', (isolation) => {
  let serval: TestServal;
  beforeAll(async () => {
    serval = await startServal({
      config: { nodeInProcess: true, localIsolation: isolation },
      functions: [
        ...['spin', 'blocked'].map((name) => ({
          name: `node-${name}`,
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: fixture('node', name),
          timeoutSeconds: 1,
        })),
        inlineNode('spin-beside', SPIN_BESIDE, {
          timeoutSeconds: 1,
          spec: { maxConcurrencyPerEnvironment: 2 },
        }),
        inlineNode('spin-in-init', SPIN_IN_INIT, { timeoutSeconds: 1 }),
      ],
    });
  });
  afterAll(() => serval.stop());

  it.each(['spin', 'blocked'])(
    '%s: ended from outside soon after its deadline, with END and REPORT',
    async (name) => {
      await serval.invoke('node-spin', {}); // a first call pays the start; the next is timed from a warm state
      const began = Date.now();
      const res = await serval.invoke(`node-${name}`, {});
      const requestId = res.headers.get('x-amzn-requestid');
      expect(res.json()).toEqual(timedOut(requestId));
      expect(res.logTail).toMatch(
        new RegExp(
          `Z ${requestId} Task timed out after 1.00 seconds\\nEND RequestId: ${requestId}\\nREPORT RequestId: ${requestId}\\tDuration: \\d+\\.\\d{2} ms`,
        ),
      );
      // The blocked handler sleeps 30 s and the spinning one never ends: only an outside kill answers.
      expect(Date.now() - began).toBeLessThan(15_000);
      const next = await serval.invoke(`node-${name}`, {});
      expect(next.logTail).toContain('Init Duration:');
    },
    40_000,
  );

  it('multi-concurrency: a spin ends the process, and every call it ran is answered', async () => {
    const calls = await Promise.all([
      serval.invoke('spin-beside', { spin: true }),
      serval.invoke('spin-beside', {}),
    ]);
    for (const call of calls) expect(call.json()).toEqual(timedOut(call.headers.get('x-amzn-requestid')));
  }, 40_000);

  it.runIf(isolation === 'auto')(
    'an init that spins: past the init phase it goes on into the invoke phase, then Sandbox.Timedout',
    async () => {
      const res = await serval.invoke('spin-in-init', {});
      expect(res.json()).toEqual(timedOut(res.headers.get('x-amzn-requestid')));
      expect(res.logTail).toMatch(/INIT_REPORT Init Duration: 10000\.00 ms\tPhase: init\tStatus: timeout\n/);
    },
    40_000,
  );
});
