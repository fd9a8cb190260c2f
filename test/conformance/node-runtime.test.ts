// The Node.js runtime through the real gateway and agent, with the misbehaving-handler library.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const NODE_FIXTURES = [
  'echo-esm',
  'echo-cjs',
  'callback',
  'context',
  'throws',
  'throws-string',
  'init-crash',
  'syntax-error',
  'no-handler',
  'import-missing',
  'timeout',
  'exit-mid',
  'big-response',
  'tmp-write',
  'logs',
  'unsettled',
];

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: NODE_FIXTURES.map((name) => ({
      name: `node-${name}`,
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      codePath: fixture('node', name),
      timeoutSeconds: name === 'timeout' ? 1 : 5,
    })),
  });
});
afterAll(() => serval.stop());

const errorOf = (res: { json(): unknown }) =>
  res.json() as { errorType: string; errorMessage: string; trace: string[] };

describe('Node.js runtime', () => {
  it.each(['echo-esm', 'echo-cjs'])('%s: returns the event', async (name) => {
    const res = await serval.invoke(`node-${name}`, { a: 1 });
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(res.json()).toEqual({ a: 1 });
  });

  it('callback style: the response waits for the event loop to drain unless told not to', async () => {
    const res = await serval.invoke('node-callback', { mode: 'callback', delayMs: 100 });
    expect(res.json()).toMatchObject({ mode: 'callback', waits: true });
    const next = await serval.invoke('node-callback', { mode: 'callback', dontWait: true, delayMs: 400 });
    expect(next.json()).toMatchObject({ previousTimerFired: true, waits: false });
    const failing = await serval.invoke('node-callback', { mode: 'error' });
    expect(failing.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(errorOf(failing)).toMatchObject({ errorType: 'Error', errorMessage: 'callback failed' });
  });

  it('context: carries the invocation facts and the function configuration', async () => {
    const res = await serval.invoke('node-context', {});
    expect(res.json()).toMatchObject({
      awsRequestId: res.headers.get('x-amzn-requestid'),
      invokedFunctionArn: 'arn:serval:lambda:local:default:function:node-context',
      functionName: 'node-context',
      functionVersion: '$LATEST',
      memoryLimitInMB: '128',
      logGroupName: '/serval/default/node-context',
    });
  });

  it('a thrown Error becomes {errorType, errorMessage, trace} with X-Amz-Function-Error', async () => {
    const res = await serval.invoke('node-throws', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const err = errorOf(res);
    expect(err).toMatchObject({ errorType: 'Error', errorMessage: 'handler failed on purpose' });
    expect(err.trace[0]).toBe('Error: handler failed on purpose');
    expect(err.trace.some((l) => l.includes('index.mjs'))).toBe(true);
  });

  it.each([
    ['init-crash', 'Error', /crashed during init/],
    ['syntax-error', 'Runtime.UserCodeSyntaxError', /SyntaxError/],
    ['no-handler', 'Runtime.HandlerNotFound', /index\.handler is undefined or not exported/],
    ['import-missing', 'Runtime.ImportModuleError', /serval-package-that-does-not-exist/],
  ])('%s: the init error is the result (%s)', async (name, errorType, message) => {
    const res = await serval.invoke(`node-${name}`, {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(errorOf(res).errorType).toBe(errorType);
    expect(errorOf(res).errorMessage).toMatch(message);
    expect(res.logTail).toMatch(/INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error/);
  });

  it('timeout: Sandbox.Timedout after the configured seconds', async () => {
    const res = await serval.invoke('node-timeout', {});
    expect(errorOf(res)).toMatchObject({ errorType: 'Sandbox.Timedout' });
    expect(errorOf(res).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
  });

  it('exit-mid: Runtime.ExitError with the exit status, and its last words in the log', async () => {
    const res = await serval.invoke('node-exit-mid', {});
    expect(errorOf(res).errorMessage).toMatch(/Runtime exited with error: exit status 3$/);
    expect(res.logTail).toContain('about to exit');
  });

  it('big-response: Function.ResponseSizeTooLarge', async () => {
    const res = await serval.invoke('node-big-response', {});
    expect(errorOf(res).errorType).toBe('Function.ResponseSizeTooLarge');
  });

  it('tmp-write: /tmp written by one invocation is read back by the next', async () => {
    await serval.invoke('node-tmp-write', { key: 'conformance', value: 'first' });
    const res = await serval.invoke('node-tmp-write', { key: 'conformance', value: 'second' });
    expect(res.json()).toMatchObject({ previous: 'first', now: 'second' });
    if (serval.isolatesTmp) expect(res.json()).toMatchObject({ previousLiteral: 'first', tmpdir: '/tmp' });
  });

  it('logs: console lines carry time, request id and level, one record per line', async () => {
    const res = await serval.invoke('node-logs', {});
    const id = res.headers.get('x-amzn-requestid');
    expect(res.logTail).toMatch(
      new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${id}\\tINFO\\tlog line$`, 'm'),
    );
    expect(res.logTail).toMatch(new RegExp(`\\t${id}\\tWARN\\twarn line$`, 'm'));
    expect(res.logTail).toMatch(new RegExp(`\\t${id}\\tERROR\\t`, 'm'));
  });

  it('unsettled: a promise left pending when the loop drains is Runtime.NodeJsExit', async () => {
    const res = await serval.invoke('node-unsettled', {});
    expect(errorOf(res).errorType).toBe('Runtime.NodeJsExit');
  });
});
