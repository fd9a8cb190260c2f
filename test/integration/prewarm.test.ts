// Pre-warmed generic environments (ADR-50): a cold start takes one waiting for its runtime profile and
// specialises it; it is that function's for life, sees exactly its variables and code, and a function that
// comes next gets another one, with none of the first one's module state or /tmp.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

/**
 * Code outside the repository (whose node_modules would make the function's parents' packages part of its
 * code, which a view at /var/task cannot show) and outside /tmp (which a sandbox's own /tmp hides).
 */
const codeRoot = mkdtempSync('/var/tmp/serval-prewarm-');

function nodeFunction(name: string, extra = ''): string {
  const dir = join(codeRoot, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'index.mjs'),
    `import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const loadedAt = Date.now();
${extra}
let calls = 0;
export const handler = async (event) => {
  calls++;
  const sawFirstTmp = existsSync('/tmp/first-was-here');
  writeFileSync('/tmp/${name}-was-here', 'x');
  return {
    me: ${JSON.stringify(name)},
    calls,
    sawFirstTmp,
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    handler: process.env._HANDLER,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    own: process.env.OWN_VARIABLE,
    envKeys: Object.keys(process.env),
    cwd: process.cwd(),
    msBeforeLoad: Math.round(loadedAt - (Date.now() - process.uptime() * 1000)),
    // The block the process was started with (Linux keeps it as it was): a pre-started runtime's.
    prestarted: readFileSync('/proc/self/environ', 'utf8').includes('SERVAL_SPECIALISE_FD='),
  };
};
`,
  );
  return dir;
}

function pythonFunction(name: string): string {
  const dir = join(codeRoot, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'app.py'),
    `import os
calls = 0
def handler(event, context):
    global calls
    calls += 1
    seen = os.path.exists('/tmp/pyfirst-was-here')
    open('/tmp/${name}-was-here', 'w').write('x')
    return {"me": ${JSON.stringify(name)}, "calls": calls, "sawFirstTmp": seen,
            "taskRoot": os.environ.get("LAMBDA_TASK_ROOT"), "own": os.environ.get("OWN_VARIABLE"),
            "envKeys": list(os.environ.keys()), "cwd": os.getcwd()}
`,
  );
  return dir;
}

/** A custom runtime (its own bootstrap): the agent is pre-warmed, the runtime starts at specialisation. */
function providedFunction(name: string): string {
  const dir = join(codeRoot, name);
  mkdirSync(dir);
  copyFileSync(fixture('provided/protocol-probe/bootstrap'), join(dir, 'bootstrap'));
  return dir;
}

interface Answer {
  me: string;
  calls: number;
  sawFirstTmp: boolean;
  taskRoot: string;
  handler?: string;
  functionName?: string;
  own?: string;
  envKeys: string[];
  cwd: string;
  msBeforeLoad?: number;
  prestarted?: boolean;
}

const initDuration = (tail: string) => Number(/Init Duration: ([\d.]+) ms/.exec(tail)?.[1] ?? Number.NaN);
/** Lets the pool's background refill start a generic environment (a still-starting one is taken as well). */
/**
 * The SERVAL_ variables a cold start's runtime has too: the host's SERVAL_CACHE passes through to every
 * runtime (runtime-shims/agent/config.ts), and CI sets it.
 */
const COLD_START_SERVAL_KEYS = process.env.SERVAL_CACHE ? ['SERVAL_CACHE'] : [];
const refill = () => new Promise((r) => setTimeout(r, 1500));

afterAll(() => rmSync(codeRoot, { recursive: true, force: true }));

describe('pre-warmed environments', () => {
  let serval: TestServal;
  const env = (own: string) => ({ OWN_VARIABLE: own });
  beforeAll(async () => {
    serval = await startServal({
      functions: [
        { name: 'warmer', runtime: 'nodejs24.x', handler: 'index.handler', codePath: nodeFunction('warmer') },
        {
          name: 'first',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: nodeFunction('first', 'const until = Date.now() + 300; while (Date.now() < until);'),
          environment: env('first-value'),
        },
        {
          name: 'second',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: nodeFunction('second'),
          environment: { ...env('second-value'), SECOND_ONLY: 'yes' },
        },
        {
          name: 'broken',
          runtime: 'nodejs24.x',
          handler: 'missing.handler',
          codePath: nodeFunction('broken'),
        },
        { name: 'cwarmer', runtime: 'provided.al2023', codePath: providedFunction('cwarmer') },
        {
          name: 'cfirst',
          runtime: 'provided.al2023',
          codePath: providedFunction('cfirst'),
          environment: env('custom-first'),
        },
        {
          name: 'pywarmer',
          runtime: 'python3.11',
          handler: 'app.handler',
          codePath: pythonFunction('pywarmer'),
        },
        {
          name: 'pyfirst',
          runtime: 'python3.11',
          handler: 'app.handler',
          codePath: pythonFunction('pyfirst'),
          environment: env('py-first'),
        },
        {
          name: 'pysecond',
          runtime: 'python3.11',
          handler: 'app.handler',
          codePath: pythonFunction('pysecond'),
          environment: env('py-second'),
        },
      ],
    });
  }, 60_000);
  afterAll(() => serval.stop());

  it('runs sandboxed here (the CI machine has namespaces)', () => {
    if (process.env.CI) expect(serval.isolatesTmp).toBe(true);
  });

  it('specialises a waiting Node environment for its function, never reused by another', async () => {
    const cold = await serval.invoke('warmer');
    expect(cold.status).toBe(200);
    const warmer = cold.json() as Answer;
    await refill();

    const firstCall = await serval.invoke('first');
    expect(firstCall.status).toBe(200);
    const first = firstCall.json() as Answer;
    if (serval.isolatesTmp) {
      // Pre-warmed: its code is in its own directory, shown at /var/task; a cold start shows it in place.
      expect(warmer.taskRoot).not.toBe('/var/task');
      expect(first.taskRoot).toBe('/var/task');
      expect(first.cwd).toBe('/var/task');
    }
    expect(first).toMatchObject({ me: 'first', calls: 1, handler: 'index.handler', functionName: 'first' });
    expect([warmer.prestarted, first.prestarted]).toEqual([false, true]);
    expect(first.own).toBe('first-value');
    // Exactly the function's variables: nothing of the pre-warm's (the agent's, the specialisation pipe).
    expect(first.envKeys.filter((k) => k.startsWith('SERVAL_'))).toEqual(COLD_START_SERVAL_KEYS);
    expect(first.envKeys).not.toContain('SECOND_ONLY');
    // A sandboxed pre-warmed environment has no V8 compile cache of its own (ADR-50): NODE_COMPILE_CACHE aside.
    const names = (keys: string[]) => keys.filter((k) => k !== 'NODE_COMPILE_CACHE').sort();
    expect(names(first.envKeys)).toEqual(names(warmer.envKeys.concat('OWN_VARIABLE')));

    // Init Duration is the function's own init (its 300 ms module body), not the time the runtime waited.
    const init = initDuration(firstCall.logTail);
    expect(init).toBeGreaterThanOrEqual(300);
    if (serval.isolatesTmp) expect(first.msBeforeLoad).toBeGreaterThan(init);

    const again = (await serval.invoke('first')).json() as Answer;
    expect(again.calls).toBe(2);
    await refill();

    const secondCall = await serval.invoke('second');
    const second = secondCall.json() as Answer;
    expect(second).toMatchObject({ me: 'second', calls: 1, own: 'second-value', functionName: 'second' });
    if (serval.isolatesTmp) {
      expect(second.taskRoot).toBe('/var/task');
      // Another environment: the first function's /tmp is not there.
      expect(second.sawFirstTmp).toBe(false);
    }
    expect(second.envKeys).toContain('SECOND_ONLY');
    expect(secondCall.logTail).toContain('Init Duration');
  }, 60_000);

  it('gives a specialisation that fails the error a cold start gives', async () => {
    await refill();
    const res = await serval.invoke('broken');
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const body = res.json() as { errorType: string; errorMessage: string };
    expect(body.errorType).toBe('Runtime.ImportModuleError');
    expect(body.errorMessage).toMatch(/Cannot find module 'missing'/);
    expect(res.logTail).toMatch(/INIT_REPORT Init Duration: [\d.]+ ms\s+Phase: init\s+Status: error/);
  }, 60_000);

  it('specialises a waiting Python environment the same way', async () => {
    const cold = (await serval.invoke('pywarmer')).json() as Answer;
    await refill();
    const firstCall = await serval.invoke('pyfirst');
    const first = firstCall.json() as Answer;
    expect(first).toMatchObject({ me: 'pyfirst', calls: 1, own: 'py-first', sawFirstTmp: false });
    expect(firstCall.logTail).toContain('Init Duration');
    expect(first.envKeys.filter((k) => k.startsWith('SERVAL_'))).toEqual(COLD_START_SERVAL_KEYS);
    expect(first.envKeys.sort()).toEqual(cold.envKeys.concat('OWN_VARIABLE').sort());
    if (serval.isolatesTmp) expect(first.taskRoot).toBe('/var/task');
    await refill();
    const second = (await serval.invoke('pysecond')).json() as Answer;
    expect(second).toMatchObject({ me: 'pysecond', calls: 1, own: 'py-second' });
    if (serval.isolatesTmp) {
      expect(second.taskRoot).toBe('/var/task');
      expect(second.sawFirstTmp).toBe(false);
    }
  }, 60_000);

  it('pre-warms the agent of a custom runtime, whose own bootstrap starts at specialisation', async () => {
    const cold = (await serval.invoke('cwarmer', { scenario: 'headers' })).json() as {
      env: Record<string, string>;
    };
    await refill();
    const res = await serval.invoke('cfirst', { scenario: 'headers' });
    expect(res.status).toBe(200);
    const first = res.json() as { env: Record<string, string>; cwd: string };
    expect(first.env.OWN_VARIABLE).toBe('custom-first');
    expect(first.env.AWS_LAMBDA_FUNCTION_NAME).toBe('cfirst');
    expect(Object.keys(first.env).sort()).toEqual(Object.keys(cold.env).concat('OWN_VARIABLE').sort());
    expect(res.logTail).toContain('Init Duration');
    if (serval.isolatesTmp) {
      expect(cold.env.LAMBDA_TASK_ROOT).not.toBe('/var/task');
      expect(first.env.LAMBDA_TASK_ROOT).toBe('/var/task');
      expect(first.cwd).toBe('/var/task');
    }
  }, 60_000);
});

describe('pre-warmed environments without a sandbox (SERVAL_LOCAL_ISOLATION=off)', () => {
  let serval: TestServal;
  beforeAll(async () => {
    const fn = (name: string, own: string) => ({
      name,
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      codePath: nodeFunction(name),
      environment: { OWN_VARIABLE: own },
    });
    serval = await startServal({
      functions: [fn('offwarmer', 'w'), fn('offfirst', 'one'), fn('offsecond', 'two')],
      env: { SERVAL_LOCAL_ISOLATION: 'off' },
    });
  }, 60_000);
  afterAll(() => serval.stop());

  it('specialises one for each function, its code in place, with exactly its variables', async () => {
    const cold = (await serval.invoke('offwarmer')).json() as Answer;
    await refill();
    const first = (await serval.invoke('offfirst')).json() as Answer;
    await refill();
    const second = (await serval.invoke('offsecond')).json() as Answer;
    expect(first).toMatchObject({
      me: 'offfirst',
      calls: 1,
      own: 'one',
      taskRoot: join(codeRoot, 'offfirst'),
    });
    expect(second).toMatchObject({
      me: 'offsecond',
      calls: 1,
      own: 'two',
      taskRoot: join(codeRoot, 'offsecond'),
    });
    expect(first.cwd).toBe(first.taskRoot);
    expect(first.envKeys.sort()).toEqual(cold.envKeys.sort());
    expect(first.envKeys.filter((k) => k.startsWith('SERVAL_'))).toEqual(COLD_START_SERVAL_KEYS);
    expect([cold.prestarted, first.prestarted, second.prestarted]).toEqual([false, true, true]);
  }, 60_000);
});
