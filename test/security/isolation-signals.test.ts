// #11.7: a function could signal the gateway and other functions' runtimes. Each environment now has its
// own PID namespace: it sees, and can signal, only its own processes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServal, type TestServal } from '../support/serval.ts';
import { descendants, requireSandbox } from './isolation-support.ts';

const SIGNALLER = `import { readdirSync } from 'node:fs';
export const handler = async (event) => {
  const results = {};
  for (const pid of event.pids) {
    try { process.kill(pid, 0); results[pid] = 'reachable'; } catch (err) { results[pid] = err.code; }
  }
  return { results, visible: readdirSync('/proc').filter((n) => /^\\d+$/.test(n)).length };
};`;
const WAITER = `export const handler = async () => { await new Promise((r) => setTimeout(r, 2500)); return 'done'; };`;

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'signaller',
        runtime: 'nodejs22.x',
        handler: 'index.handler',
        inline: { 'index.mjs': SIGNALLER },
      },
      { name: 'waiter', runtime: 'nodejs22.x', handler: 'index.handler', inline: { 'index.mjs': WAITER } },
    ],
  });
});
afterAll(() => serval?.stop());

describe('isolation: processes', () => {
  it("a function can signal neither the gateway nor another environment's processes", async (ctx) => {
    requireSandbox(serval.isolatesTmp, ctx);
    expect((await serval.invoke('signaller', { pids: [] })).status).toBe(200);
    const before = new Set(descendants(process.pid));
    const waiting = serval.invoke('waiter');
    // The waiter's environment: whatever appeared under the gateway since.
    let others: number[] = [];
    await expect
      .poll(() => {
        others = descendants(process.pid).filter((pid) => !before.has(pid));
        return others.length;
      })
      .toBeGreaterThanOrEqual(3); // unshare, the agent, the runtime
    const res = await serval.invoke('signaller', { pids: [process.pid, ...others] });
    const { results, visible } = res.json() as { results: Record<string, string>; visible: number };
    expect(Object.values(results).every((r) => r === 'ESRCH')).toBe(true);
    // Its agent, its runtime and maybe a shell: nothing of the host's.
    expect(visible).toBeLessThanOrEqual(4);
    expect((await waiting).status).toBe(200);
  });
});
