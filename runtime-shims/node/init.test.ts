// Starts the real runtime process on fixtures whose init fails, and checks what it reports to the Runtime API.
import { afterEach, describe, expect, it } from 'vitest';
import { type RuntimeUnderTest, startRuntime } from './test-support/runtime-api-double.ts';

const running: RuntimeUnderTest[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function initFailure(fixture: string, env: Record<string, string> = {}) {
  const under = await startRuntime(fixture, env);
  running.push(under);
  const posted = await under.api.initError;
  const exitCode = await under.runtime.exited;
  return {
    posted,
    exitCode,
    body: posted.json as { errorType: string; errorMessage: string; trace: string[] },
    under,
  };
}

describe('init errors', () => {
  it('reports an exception thrown at module top level with its own type, logs it, and exits non-zero', async () => {
    const { posted, body, exitCode, under } = await initFailure('init-crash');
    expect(posted.headers['lambda-runtime-function-error-type']).toBe('Error');
    expect(body.errorType).toBe('Error');
    expect(body.errorMessage).toBe('crashed during init');
    expect(body.trace[0]).toBe('Error: crashed during init');
    expect(exitCode).toBe(129);
    expect(under.runtime.stdout).toMatch(
      /^\S+Z\tundefined\tERROR\tUncaught Exception \t\{"errorType":"Error"/,
    );
    expect(under.api.nextCalls).toHaveLength(0);
  });

  it('reports a syntax error as Runtime.UserCodeSyntaxError', async () => {
    const { posted, body, exitCode } = await initFailure('syntax-error');
    expect(posted.headers['lambda-runtime-function-error-type']).toBe('Runtime.UserCodeSyntaxError');
    expect(body.errorMessage).toMatch(/^SyntaxError: /);
    expect(body.trace[0]).toBe(`Runtime.UserCodeSyntaxError: ${body.errorMessage}`);
    expect(exitCode).not.toBe(0);
  });

  it('reports a module without the export as Runtime.HandlerNotFound', async () => {
    const { body } = await initFailure('no-handler');
    expect(body).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.handler is undefined or not exported',
    });
  });

  it('reports an export that is not a function as Runtime.HandlerNotFound', async () => {
    const { body } = await initFailure('echo-cjs', { _HANDLER: 'index.nested' });
    expect(body).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.nested is not a function',
    });
  });

  it('reports a missing package as Runtime.ImportModuleError', async () => {
    const { body } = await initFailure('import-missing');
    expect(body.errorType).toBe('Runtime.ImportModuleError');
    expect(body.errorMessage).toMatch(
      /^Error: Cannot find package 'serval-package-that-does-not-exist' imported from /,
    );
  });

  it('reports a missing handler file as Runtime.ImportModuleError', async () => {
    const { body } = await initFailure('echo-esm', { _HANDLER: 'nothing-here.handler' });
    expect(body.errorType).toBe('Runtime.ImportModuleError');
    expect(body.errorMessage).toMatch(/^Error: Cannot find module 'nothing-here'\nRequire stack:/);
  });

  it('reports a handler name without an export as Runtime.MalformedHandlerName', async () => {
    const { body } = await initFailure('echo-esm', { _HANDLER: 'index' });
    expect(body).toMatchObject({ errorType: 'Runtime.MalformedHandlerName', errorMessage: 'Bad handler' });
  });

  it('reports a handler that climbs out of the task root as Runtime.MalformedHandlerName', async () => {
    const { body } = await initFailure('echo-esm', { _HANDLER: '../echo-cjs/index.handler' });
    expect(body.errorType).toBe('Runtime.MalformedHandlerName');
  });
});

describe('handler loading', () => {
  async function echo(fixture: string, handler: string) {
    const under = await startRuntime(fixture, { _HANDLER: handler });
    running.push(under);
    return (await under.api.invoke({ event: { n: 1 } })).json;
  }

  it('loads an ES module (.mjs)', async () => {
    expect(await echo('echo-esm', 'index.handler')).toEqual({ n: 1 });
  });

  it('loads a CommonJS module (.js under "type": "commonjs")', async () => {
    expect(await echo('echo-cjs', 'index.handler')).toEqual({ n: 1 });
  });

  it('follows a nested export path', async () => {
    expect(await echo('echo-cjs', 'index.nested.handler')).toEqual({ n: 1 });
  });

  it('finds CommonJS exports Node cannot name statically through module.exports', async () => {
    expect(await echo('echo-cjs', 'dynamic-exports.handler')).toEqual({ dynamic: true, event: { n: 1 } });
  });

  it('asks /next for work once its handler is loaded, before any event exists', async () => {
    // How fast is a benchmark's question (bench/); here only the order: init first, then the poll.
    const under = await startRuntime('echo-esm', { _HANDLER: 'index.handler' });
    running.push(under);
    const deadline = Date.now() + 120_000;
    while (under.api.nextCalls.length === 0) {
      if (Date.now() > deadline) throw new Error('the runtime never asked /next for work');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await under.api.invoke({ event: { n: 2 } })).json).toEqual({ n: 2 });
  });
});
