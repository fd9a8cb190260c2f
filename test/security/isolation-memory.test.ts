// #11.8 and #11.9: a Node function with memoryMB 128 allocated 566 MB and succeeded (Python 534 MB), and
// REPORT said `Max Memory Used: 0 MB` after an exit, out-of-memory, timeout or kill. Over its memory a
// runtime is now ended and the invocation fails with Lambda's Runtime.OutOfMemory; REPORT shows the real
// peak. With a memory cgroup (v1 or delegated v2) the limit is exact; without one the agent samples.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FunctionManifestInput, startServal, type TestServal } from '../support/serval.ts';

const NODE_HOG = `export const handler = async (event) => {
  const kept = [];
  for (let mb = 0; mb < event.mb; mb += 8) {
    kept.push(Buffer.alloc(8 * 1024 * 1024, 1));
    if (event.slowly) await new Promise((r) => setTimeout(r, 5));
  }
  if (event.after === 'exit') setTimeout(() => process.exit(3), 300);
  if (event.after === 'exit' || event.after === 'hang') await new Promise(() => setInterval(() => {}, 1000));
  return { allocatedMB: kept.length * 8 };
};`;
const PYTHON_HOG = `def handler(event, context):
    kept = [bytearray(b"x" * (8 * 1024 * 1024)) for _ in range(event["mb"] // 8)]
    return {"allocatedMB": len(kept) * 8}
`;

const limits = { memoryMB: 128, timeoutSeconds: 3 };
const FUNCTIONS: FunctionManifestInput[] = [
  {
    name: 'node-hog',
    runtime: 'nodejs22.x',
    handler: 'index.handler',
    inline: { 'index.mjs': NODE_HOG },
    ...limits,
  },
  {
    name: 'py-hog',
    runtime: 'python3.12',
    handler: 'app.handler',
    inline: { 'app.py': PYTHON_HOG },
    ...limits,
  },
];

function maxMemoryUsed(logTail: string): number {
  const match = /Max Memory Used: (\d+) MB/.exec(logTail);
  if (!match) throw new Error(`no REPORT in ${logTail}`);
  return Number(match[1]);
}

function expectOutOfMemory(res: Awaited<ReturnType<TestServal['invoke']>>) {
  expect(res.status).toBe(200);
  expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
  expect(res.json()).toEqual({
    errorType: 'Runtime.OutOfMemory',
    errorMessage: expect.stringMatching(
      /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed$/,
    ),
  });
  expect(maxMemoryUsed(res.logTail)).toBeGreaterThanOrEqual(64);
}

for (const localIsolation of ['auto', 'off'] as const) {
  describe(`isolation: memory limits (SERVAL_LOCAL_ISOLATION=${localIsolation})`, () => {
    let serval: TestServal;
    beforeAll(async () => {
      serval = await startServal({ functions: FUNCTIONS, config: { localIsolation } });
    });
    afterAll(() => serval?.stop());

    it('a Node function over its memory ends with Runtime.OutOfMemory, and the next call runs again', async () => {
      // Sampling needs the allocation to take a little time to see it; a cgroup does not.
      expectOutOfMemory(await serval.invoke('node-hog', { mb: 600, slowly: localIsolation === 'off' }));
      const next = await serval.invoke('node-hog', { mb: 16 });
      expect(next.json()).toEqual({ allocatedMB: 16 });
    });

    it('a Python function over its memory ends with Runtime.OutOfMemory', async (ctx) => {
      // Python fills each buffer at once: only the cgroup is fast enough to stop it at the limit.
      if (localIsolation === 'off') ctx.skip('sampling cannot stop an allocation this fast');
      expectOutOfMemory(await serval.invoke('py-hog', { mb: 600 }));
    });

    it('REPORT carries the real peak after a runtime exit and after a timeout', async () => {
      const exited = await serval.invoke('node-hog', { mb: 64, after: 'exit' });
      expect(exited.json()).toMatchObject({ errorType: 'Runtime.ExitError' });
      expect(maxMemoryUsed(exited.logTail)).toBeGreaterThanOrEqual(64);
      const timedOut = await serval.invoke('node-hog', { mb: 64, after: 'hang' });
      expect(timedOut.json()).toMatchObject({ errorType: 'Sandbox.Timedout' });
      expect(maxMemoryUsed(timedOut.logTail)).toBeGreaterThanOrEqual(64);
    });
  });
}
