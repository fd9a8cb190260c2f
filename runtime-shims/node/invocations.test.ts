// Starts the real runtime process on buffered (async and callback) fixtures and checks what it posts.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { delay, type RuntimeUnderTest, startRuntime } from './test-support/runtime-api-double.ts';

const running: RuntimeUnderTest[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function start(fixture: string, env: Record<string, string> = {}) {
  const under = await startRuntime(fixture, env);
  running.push(under);
  return under;
}

interface ErrorBody {
  errorType: string;
  errorMessage: string;
  trace: string[];
}

describe('async handlers', () => {
  it('posts the result as JSON to /response, invocation after invocation', async () => {
    const { api } = await start('echo-esm');
    const first = await api.invoke({ event: { a: 1 }, requestId: 'req-a' });
    expect(first.path).toBe('/2018-06-01/runtime/invocation/req-a/response');
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.json).toEqual({ a: 1 });
    const second = await api.invoke({ event: [1, 'two'] });
    expect(second.json).toEqual([1, 'two']);
    // The runtime asks for the next invocation right after posting each result.
    await vi.waitFor(() => expect(api.nextCalls).toHaveLength(3));
  });

  it('posts a thrown Error to /error with its type header and stack as trace', async () => {
    const { api, runtime } = await start('throws');
    const posted = await api.invoke({ requestId: 'req-t' });
    expect(posted.path).toBe('/2018-06-01/runtime/invocation/req-t/error');
    expect(posted.headers['lambda-runtime-function-error-type']).toBe('Error');
    const body = posted.json as ErrorBody;
    expect(body.errorMessage).toBe('handler failed on purpose');
    expect(body.trace[0]).toBe('Error: handler failed on purpose');
    expect(body.trace[1]).toMatch(/^ {4}at handler \(.*throws\/index\.mjs:3:9\)$/);
    expect(runtime.stdout).toMatch(/\treq-t\tERROR\tInvoke Error \t\{"errorType":"Error"/);
  });

  it('posts a rejected non-Error by its type with an empty trace', async () => {
    const { api } = await start('throws-string');
    const posted = await api.invoke();
    expect(posted.headers['lambda-runtime-function-error-type']).toBe('string');
    expect(posted.json).toEqual({ errorType: 'string', errorMessage: 'plain string rejection', trace: [] });
  });

  it('reports an event that is not JSON as the invocation error', async () => {
    const { api } = await start('echo-esm');
    const body = (await api.invoke({ raw: '{not json' })).json as ErrorBody;
    expect(body.errorType).toBe('SyntaxError');
  });

  it('reports a result JSON cannot hold as "Unable to stringify response body"', async () => {
    const { api } = await start('bad-result');
    for (const mode of ['circular', 'bigint', 'function']) {
      const body = (await api.invoke({ event: { mode } })).json as ErrorBody;
      expect(body).toMatchObject({ errorType: 'Error', errorMessage: 'Unable to stringify response body' });
    }
  });

  it('reports a promise left pending on an empty event loop as Runtime.NodeJsExit, and keeps serving', async () => {
    const { api, runtime } = await start('unsettled');
    const posted = await api.invoke();
    const body = posted.json as ErrorBody;
    expect(posted.headers['lambda-runtime-function-error-type']).toBe('Runtime.NodeJsExit');
    expect(body.errorMessage).toMatch(/^The Lambda runtime client detected an unexpected Node.js exit code/);
    expect(((await api.invoke()).json as ErrorBody).errorType).toBe('Runtime.NodeJsExit');
    expect(runtime.child.exitCode).toBeNull();
  });

  it('sends a response above 6 MB whole (enforcing the limit is the agent job)', async () => {
    const { api } = await start('big-response');
    const posted = await api.invoke();
    expect(posted.body.length).toBe(7 * 1024 * 1024 + 2);
    expect(Number(posted.headers['content-length'])).toBe(posted.body.length);
  });

  it('keeps /tmp across invocations of one process', async () => {
    const { api } = await start('tmp-write');
    const key = `test-${process.pid}-${Date.now()}`;
    try {
      const first = await api.invoke({ event: { key, value: 'one' } });
      expect(first.json).toMatchObject({ previous: null, previousLiteral: null, now: 'one' });
      const second = await api.invoke({ event: { key, value: 'two' } });
      expect(second.json).toMatchObject({ previous: 'one', previousLiteral: 'one', now: 'two' });
    } finally {
      rmSync(`/tmp/serval-tmp-write-${key}.txt`, { force: true });
    }
  });

  it('never answers a handler that keeps the loop busy (the agent times it out)', async () => {
    const { api } = await start('timeout');
    expect(await Promise.race([api.invoke(), delay(500)])).toBe('timeout');
  });

  it('leaves the process exit status of process.exit() to the agent', async () => {
    const { api, runtime } = await start('exit-mid');
    void api.invoke();
    expect(await runtime.exited).toBe(3);
    expect(runtime.stdout).toMatch(/\tINFO\tabout to exit\n$/);
  });
});

describe('faults outside the handler promise', () => {
  it('reports an exception thrown from a timer as the invocation error, then exits 129', async () => {
    const { api, runtime } = await start('async-crash');
    const body = (await api.invoke({ event: { mode: 'uncaught' } })).json as ErrorBody;
    expect(body).toMatchObject({ errorType: 'Error', errorMessage: 'thrown from a timer' });
    expect(await runtime.exited).toBe(129);
    expect(runtime.stdout).toContain('\tERROR\tUncaught Exception \t');
  });

  it('reports an unhandled rejection as Runtime.UnhandledPromiseRejection, then exits 128', async () => {
    const { api, runtime } = await start('async-crash');
    const body = (await api.invoke({ event: { mode: 'unhandled' } })).json as ErrorBody;
    expect(body).toMatchObject({
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: 'Error: nobody handled this rejection',
    });
    expect(await runtime.exited).toBe(128);
  });
});

describe('callback handlers', () => {
  it('waits for the event loop to drain before answering', async () => {
    const { api } = await start('callback');
    await api.invoke({ event: { mode: 'succeed' } }); // warm: the process is up
    const started = Date.now();
    const posted = await api.invoke({ event: { delayMs: 300 } });
    expect(posted.json).toMatchObject({ mode: 'callback', waits: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('answers at once when callbackWaitsForEmptyEventLoop is false', async () => {
    const { api } = await start('callback');
    await api.invoke({ event: { mode: 'succeed' } });
    const started = Date.now();
    const posted = await api.invoke({ event: { delayMs: 1000, dontWait: true } });
    expect(posted.json).toMatchObject({ waits: false });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('supports callback(error), context.succeed/fail/done and only counts the first answer', async () => {
    const { api } = await start('callback');
    const result = async (mode: string) => (await api.invoke({ event: { mode, delayMs: 1 } })).json;
    expect(await result('error')).toMatchObject({ errorType: 'Error', errorMessage: 'callback failed' });
    expect(await result('succeed')).toMatchObject({ mode: 'succeed' });
    expect(await result('fail')).toMatchObject({ errorType: 'Error', errorMessage: 'context.fail called' });
    expect(await result('fail-empty')).toEqual({ errorType: 'string', errorMessage: 'handled', trace: [] });
    expect(await result('done')).toMatchObject({ mode: 'done' });
    expect(await result('twice')).toMatchObject({ mode: 'twice', call: 1 });
  });

  it('succeeds with null when the handler never calls back or only returns a value', async () => {
    const { api } = await start('callback');
    expect((await api.invoke({ event: { mode: 'never', delayMs: 1 } })).json).toBeNull();
    expect((await api.invoke({ event: { mode: 'sync-return', delayMs: 1 } })).json).toBeNull();
  });

  it("prints the official client's deprecation warning at init unless disabled", async () => {
    const warned = await start('callback');
    await warned.api.invoke({ event: { mode: 'succeed' } });
    expect(warned.runtime.stdout).toMatch(
      /\tundefined\tWARN\tAWS Lambda plans to remove support for callback-based/,
    );
    const quiet = await start('callback', { AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING: 'true' });
    await quiet.api.invoke({ event: { mode: 'succeed' } });
    expect(quiet.runtime.stdout).not.toContain('WARN');
  });
});
