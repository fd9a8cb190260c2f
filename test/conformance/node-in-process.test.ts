// The Node runtime's behaviour in both environment modes (ADR-52): as a process of its own behind the agent's
// Runtime API, and inside the agent's process (SERVAL_NODE_IN_PROCESS=on). The same cases, the same answers.
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const FIXTURES = [
  'echo-esm',
  'echo-cjs',
  'callback',
  'context',
  'throws',
  'init-crash',
  'syntax-error',
  'no-handler',
  'timeout',
  'spin',
  'blocked',
  'exit-mid',
  'async-crash',
  'big-response',
  'tmp-write',
  'logs',
  'unsettled',
  'streaming',
];

const errorOf = (res: { json(): unknown }) =>
  res.json() as { errorType: string; errorMessage: string; trace: string[] };

describe.each([
  ['agent', false],
  ['in-process', true],
])('Node runtime, %s mode', (_mode, nodeInProcess) => {
  let serval: TestServal;
  beforeAll(async () => {
    serval = await startServal({
      config: { nodeInProcess },
      functions: [
        ...FIXTURES.map((name) => ({
          name: `node-${name}`,
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: fixture('node', name),
          timeoutSeconds: ['timeout', 'spin', 'blocked'].includes(name) ? 1 : 5,
        })),
        {
          name: 'node-stream-hang',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: fixture('node', 'stream-url'),
          timeoutSeconds: 1,
        },
        {
          name: 'node-probe',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: fixture('node', 'environment-probe'),
          timeoutSeconds: 5,
        },
        {
          name: 'node-options',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          inline: {
            'index.js':
              'exports.handler = async () => ({ sourceMaps: process.sourceMapsEnabled, limit: Error.stackTraceLimit });\n',
          },
          environment: { NODE_OPTIONS: '--enable-source-maps --stack-trace-limit=7' },
        },
        {
          name: 'node-multi',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: fixture('node', 'barrier'),
          timeoutSeconds: 10,
          spec: { maxConcurrencyPerEnvironment: 4 },
        },
      ],
    });
  });
  afterAll(() => serval.stop());

  it("the function's NODE_OPTIONS reach the Node that runs its handler", async () => {
    const res = await serval.invoke('node-options', {});
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(res.json()).toEqual({ sourceMaps: true, limit: 7 });
  });

  it.each(['echo-esm', 'echo-cjs'])('%s: returns the event, warm on the second call', async (name) => {
    const first = await serval.invoke(`node-${name}`, { a: 1 });
    expect(first.headers.get('x-amz-function-error')).toBeNull();
    expect(first.json()).toEqual({ a: 1 });
    expect(first.logTail).toMatch(/Init Duration: \d+\.\d{2} ms\t\n$/);
    const second = await serval.invoke(`node-${name}`, { b: 2 });
    expect(second.json()).toEqual({ b: 2 });
    expect(second.logTail).toMatch(
      /^START RequestId: [0-9a-f-]{36} Version: \$LATEST\nEND RequestId: [0-9a-f-]{36}\nREPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: [1-9]\d* MB\t\n$/,
    );
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

  it('context: the invocation facts, client context and trace header reach the handler', async () => {
    const clientContext = Buffer.from(JSON.stringify({ custom: { k: 'v' } })).toString('base64');
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const res = await serval.invoke(
      'node-context',
      {},
      { 'X-Amz-Client-Context': clientContext, 'X-Amzn-Trace-Id': trace },
    );
    expect(res.json()).toMatchObject({
      awsRequestId: res.headers.get('x-amzn-requestid'),
      invokedFunctionArn: 'arn:serval:lambda:local:default:function:node-context',
      functionName: 'node-context',
      functionVersion: '$LATEST',
      memoryLimitInMB: '128',
      logGroupName: '/serval/default/node-context',
    });
    expect(JSON.stringify(res.json())).toContain('"k":"v"');
    expect(res.logTail).toContain('XRAY TraceId: 1-5759e988-bd862e3fe1be46a994272793');
  });

  it('a thrown Error becomes {errorType, errorMessage, trace} with X-Amz-Function-Error', async () => {
    const res = await serval.invoke('node-throws', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(errorOf(res)).toMatchObject({ errorType: 'Error', errorMessage: 'handler failed on purpose' });
    expect(errorOf(res).trace[0]).toBe('Error: handler failed on purpose');
  });

  it.each([
    ['init-crash', 'Error', /crashed during init/],
    ['syntax-error', 'Runtime.UserCodeSyntaxError', /SyntaxError/],
    ['no-handler', 'Runtime.HandlerNotFound', /index\.handler is undefined or not exported/],
  ])(
    '%s: the init error is the result (%s), and again on the next call',
    async (name, errorType, message) => {
      for (let i = 0; i < 2; i++) {
        const res = await serval.invoke(`node-${name}`, {});
        expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
        expect(errorOf(res).errorType).toBe(errorType);
        expect(errorOf(res).errorMessage).toMatch(message);
        expect(res.logTail).toMatch(/INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error/);
      }
    },
  );

  it.each(['timeout', 'spin'])(
    '%s: Sandbox.Timedout after the configured seconds, then a fresh init',
    async (name) => {
      const res = await serval.invoke(`node-${name}`, {});
      const requestId = res.headers.get('x-amzn-requestid');
      expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(res.json()).toEqual({
        errorType: 'Sandbox.Timedout',
        errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds`,
      });
      expect(res.logTail).toMatch(
        new RegExp(
          `Z ${requestId} Task timed out after 1.00 seconds\\nEND RequestId: ${requestId}\\nREPORT RequestId: ${requestId}\\tDuration: \\d+\\.\\d{2} ms`,
        ),
      );
      const next = await serval.invoke(`node-${name}`, {});
      expect(errorOf(next).errorType).toBe('Sandbox.Timedout');
      expect(next.logTail).toContain('Init Duration:');
    },
  );

  it('blocked outside JavaScript: Sandbox.Timedout all the same, and the next call is served', async () => {
    const res = await serval.invoke('node-blocked', {});
    const requestId = res.headers.get('x-amzn-requestid');
    expect(res.json()).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds`,
    });
    expect(res.logTail).toContain(
      `${requestId} Task timed out after 1.00 seconds\nEND RequestId: ${requestId}\n`,
    );
    const next = await serval.invoke('node-echo-esm', { after: 'blocked' });
    expect(next.json()).toEqual({ after: 'blocked' });
  });

  it('exit-mid: Runtime.ExitError with the exit status, and its last words in the log', async () => {
    const res = await serval.invoke('node-exit-mid', {});
    expect(errorOf(res)).toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(errorOf(res).errorMessage).toMatch(/Runtime exited with error: exit status 3$/);
    expect(res.logTail).toContain('about to exit');
    expect(res.logTail).toMatch(/REPORT RequestId: /);
  });

  it('an uncaught exception is the error of its invocation; the next call starts afresh', async () => {
    const res = await serval.invoke('node-async-crash', {});
    expect(errorOf(res)).toMatchObject({ errorType: 'Error', errorMessage: 'thrown from a timer' });
    expect(res.logTail).toContain('Uncaught Exception');
    const next = await serval.invoke('node-async-crash', { mode: 'unhandled' });
    // The agent waits 20 ms after a runtime's exit for its last request (EXIT_GRACE_MS); on a loaded machine the
    // report can come later and the agent answers for the exit instead. In-process the report is the answer.
    expect(errorOf(next).errorType).toBeOneOf(
      nodeInProcess
        ? ['Runtime.UnhandledPromiseRejection']
        : ['Runtime.UnhandledPromiseRejection', 'Runtime.ExitError'],
    );
    // Likewise the agent's next call can reach the old runtime before its exit is seen.
    if (nodeInProcess) expect(next.logTail).toContain('Init Duration:');
  });

  it('big-response: Function.ResponseSizeTooLarge', async () => {
    const res = await serval.invoke('node-big-response', {});
    expect(errorOf(res).errorType).toBe('Function.ResponseSizeTooLarge');
  });

  it('tmp-write: /tmp written by one invocation is read back by the next', async () => {
    await serval.invoke('node-tmp-write', { key: 'conformance', value: 'first' });
    const res = await serval.invoke('node-tmp-write', { key: 'conformance', value: 'second' });
    expect(res.json()).toMatchObject({ previous: 'first', now: 'second' });
  });

  it('logs: console lines carry time, request id and level, in the tail and the function log', async () => {
    const res = await serval.invoke('node-logs', {});
    const id = res.headers.get('x-amzn-requestid');
    expect(res.logTail).toMatch(
      new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${id}\\tINFO\\tlog line$`, 'm'),
    );
    expect(res.logTail).toMatch(new RegExp(`\\t${id}\\tWARN\\twarn line$`, 'm'));
    expect(res.logTail).toMatch(new RegExp(`\\t${id}\\tERROR\\t`, 'm'));
    await expect
      .poll(() => serval.logs('node-logs').join('\n'))
      .toMatch(new RegExp(`\\t${id}\\tINFO\\tlog line\\n(.*\\n)*REPORT RequestId: ${id}\\t`));
  });

  it('unsettled: a promise left pending when the loop drains is Runtime.NodeJsExit', async () => {
    const res = await serval.invoke('node-unsettled', {});
    expect(errorOf(res).errorType).toBe('Runtime.NodeJsExit');
  });

  it('streaming: chunks relayed over the link; an error mid-stream comes from the trailers', async () => {
    const res = await serval.invoke('node-streaming', { chunks: ['a', 'b', 'c'] });
    expect(res.headers.get('x-amz-function-error')).toBeNull();
    expect(res.text).toBe('abc');
    const failed = await serval.invoke('node-streaming', { mode: 'fail-mid' });
    expect(failed.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(failed.text).toContain('stream broke');
  });

  it('streaming: a handler waiting on nothing mid-stream is ended by its timeout, not by the drained loop', async () => {
    const res = await serval.invoke('node-stream-hang', { mode: 'hang' });
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.text).toContain('Sandbox.Timedout');
  });

  it('its own SIGKILL ends the runtime: Runtime.ExitError "signal: killed", then a fresh init', async () => {
    const res = await serval.invoke('node-probe', { mode: 'kill' });
    const requestId = res.headers.get('x-amzn-requestid');
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: signal: killed`,
    });
    expect(res.logTail).toMatch(new RegExp(`END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\t`));
    const next = await serval.invoke('node-probe', {});
    expect(next.headers.get('x-amz-function-error')).toBeNull();
    expect(next.logTail).toContain('Init Duration:');
  });

  it('an abort (as a V8 heap-limit abort) is Runtime.ExitError "signal: aborted"', async () => {
    const res = await serval.invoke('node-probe', { mode: 'abort' });
    expect(errorOf(res).errorType).toBe('Runtime.ExitError');
    expect(errorOf(res).errorMessage).toMatch(/Error: Runtime exited with error: signal: aborted$/);
    expect(res.logTail).toMatch(/REPORT RequestId: /);
  });

  it('over its memory: Runtime.OutOfMemory with the peak in REPORT, and the next call runs', async () => {
    const res = await serval.invoke('node-probe', { mode: 'hog', mb: 600 });
    expect(res.json()).toEqual({
      errorType: 'Runtime.OutOfMemory',
      errorMessage: expect.stringMatching(
        /^RequestId: [0-9a-f-]{36} Error: Runtime exited with error: signal: killed$/,
      ),
    });
    expect(Number(/Max Memory Used: (\d+) MB/.exec(res.logTail)?.[1])).toBeGreaterThanOrEqual(100);
    const next = await serval.invoke('node-probe', { mode: 'hog', mb: 16 });
    expect(next.json()).toEqual({ allocatedMB: 16 });
  });

  it('/tmp survives a crash of the runtime, as in Lambda', async () => {
    const value = `kept-${Date.now()}`;
    expect((await serval.invoke('node-probe', { mode: 'tmp-write', value })).json()).toEqual({
      wrote: value,
    });
    expect(errorOf(await serval.invoke('node-probe', { mode: 'kill' })).errorType).toBe('Runtime.ExitError');
    const read = await serval.invoke('node-probe', { mode: 'tmp-read' });
    expect(read.json()).toEqual({ read: value });
  });

  it("a child process inherits none of the environment's descriptors", async () => {
    const res = await serval.invoke('node-probe', { mode: 'fds' });
    // What the test's own process passes on (its parent's descriptors) every child inherits; not ours.
    const own = new Set(
      readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          return [readlinkSync(`/proc/self/fd/${fd}`)];
        } catch {
          return [];
        }
      }),
    );
    const { inherited } = res.json() as { inherited: string[] };
    const environments = inherited.filter((entry) => !own.has(entry.split(' -> ')[1]!));
    // The link (a socket), the cgroup's files and the supervisor's ledger stay with the environment.
    expect(environments.filter((e) => /socket:|pipe:|memory\.|cgroup|serval/.test(e))).toEqual([]);
    if (nodeInProcess) expect(environments).toEqual([]);
  });

  it('AWS_LAMBDA_RUNTIME_API names a Runtime API that answers', async () => {
    const res = await serval.invoke('node-probe', { mode: 'runtime-api' });
    expect(res.json()).toEqual({ api: expect.stringMatching(/^127\.0\.0\.1:\d+$/), ping: 'pong' });
  });

  it('multi-concurrency: four calls at once in one process, each with its own trace id and log tail', async () => {
    const traces = [1, 2, 3, 4].map(
      (i) => `Root=1-5759e988-bd862e3fe1be46a99427279${i};Parent=53995c3f42cd8ad8;Sampled=0`,
    );
    const calls = await Promise.all(
      traces.map((trace) => serval.invoke('node-multi', { barrier: 4 }, { 'X-Amzn-Trace-Id': trace })),
    );
    const replies = calls.map(
      (c) => c.json() as { processId: string; requestId: string; traceId: string; most: number },
    );
    expect(new Set(replies.map((r) => r.processId)).size).toBe(1);
    expect(replies.map((r) => r.traceId.replace(/;Lineage=.*$/, ''))).toEqual(traces);
    for (const [i, call] of calls.entries()) {
      expect(call.headers.get('x-amz-function-error')).toBeNull();
      expect(replies[i]!.most).toBe(4);
      expect(call.logTail).toContain(`inside ${replies[i]!.requestId}`);
      for (const other of replies)
        if (other !== replies[i]) expect(call.logTail).not.toContain(other.requestId);
    }
  });

  it('multi-concurrency: a crash fails every call it was running with Runtime.ExitError', async () => {
    const calls = await Promise.all([
      serval.invoke('node-multi', { crash: true }),
      serval.invoke('node-multi', { barrier: 99 }),
    ]);
    for (const call of calls) {
      expect(call.headers.get('x-amz-function-error')).toBe('Unhandled');
      expect(errorOf(call).errorType).toBe('Runtime.ExitError');
    }
    const after = await serval.invoke('node-multi', {});
    expect(after.headers.get('x-amz-function-error')).toBeNull();
  });
});
