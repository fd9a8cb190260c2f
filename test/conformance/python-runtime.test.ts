// The Python runtime through the real gateway and agent, with the misbehaving-handler library.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutFirstHop } from '../support/lineage.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const FIXTURES = [
  'echo',
  'context',
  'raises',
  'init-crash',
  'syntax-error',
  'no-handler',
  'import-missing',
  'timeout',
  'exit-mid',
  'big-response',
  'tmp-write',
  'logs',
];

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      ...FIXTURES.map((name) => ({
        name: `py-${name}`,
        runtime: 'python3.11',
        handler: 'lambda_function.handler',
        codePath: fixture('python', name),
        timeoutSeconds: name === 'timeout' ? 1 : 5,
      })),
      {
        name: 'py-nested',
        runtime: 'python3.11',
        handler: 'nested/dir/module.handler',
        codePath: fixture('python'),
      },
      {
        name: 'py-bad-handler',
        runtime: 'python3.11',
        handler: 'nodot',
        codePath: fixture('python', 'echo'),
      },
    ],
  });
});
afterAll(() => serval.stop());

type PyError = { errorType: string; errorMessage: string; requestId: string; stackTrace: string[] };
const errorOf = (res: { json(): unknown }) => res.json() as PyError;

describe('Python runtime', () => {
  it('echo: returns the event', async () => {
    const res = await serval.invoke('py-echo', { a: 1 });
    expect(res.json()).toEqual({ a: 1 });
  });

  it('nested handler path with "/"', async () => {
    const res = await serval.invoke('py-nested', { b: 2 });
    expect(res.json()).toEqual({ nested: true, event: { b: 2 } });
  });

  it('context: every field of §3.2, client context and trace id', async () => {
    const clientContext = { custom: { k: 'v' }, env: { e: 1 }, client: { installation_id: 'inst-1' } };
    const res = await serval.invoke(
      'py-context',
      {},
      {
        'X-Amz-Client-Context': Buffer.from(JSON.stringify(clientContext)).toString('base64'),
        'X-Amzn-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      },
    );
    const body = res.json() as Record<string, unknown>;
    expect(body).toMatchObject({
      aws_request_id: res.headers.get('x-amzn-requestid'),
      invoked_function_arn: 'arn:serval:lambda:local:default:function:py-context',
      function_name: 'py-context',
      function_version: '$LATEST',
      memory_limit_in_mb: '128',
      log_group_name: '/serval/default/py-context',
      client_context: { custom: { k: 'v' }, env: { e: 1 }, installation_id: 'inst-1' },
      identity: { id: null, pool: null },
    });
    expect(withoutFirstHop(body.trace_id as string)).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    );
    expect(body.remaining).toBeGreaterThan(3000);
    expect(body.remaining).toBeLessThanOrEqual(5000);
  });

  it('an exception becomes {errorMessage, errorType, requestId, stackTrace}', async () => {
    const res = await serval.invoke('py-raises', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const err = errorOf(res);
    expect(err).toMatchObject({
      errorType: 'KeyError',
      errorMessage: "'action'",
      requestId: res.headers.get('x-amzn-requestid'),
    });
    expect(err.stackTrace[0]).toMatch(
      /^ {2}File ".*lambda_function\.py", line 2, in handler\n {4}return event\["action"\]\n/,
    );
    expect(res.logTail).toMatch(/^\[ERROR\] KeyError: 'action'\rTraceback \(most recent call last\):\r/m);
  });

  it.each([
    [
      'py-init-crash',
      'Runtime.ImportModuleError',
      "Unable to import module 'lambda_function': crashed during init",
    ],
    ['py-syntax-error', 'Runtime.UserCodeSyntaxError', "Syntax error in module 'lambda_function'"],
    ['py-no-handler', 'Runtime.HandlerNotFound', "Handler 'handler' missing on module 'lambda_function'"],
    [
      'py-import-missing',
      'Runtime.ImportModuleError',
      "Unable to import module 'lambda_function': No module named 'serval_module_that_does_not_exist'",
    ],
    ['py-bad-handler', 'Runtime.MalformedHandlerName', "Bad handler 'nodot'"],
  ])('%s: the init error is the result (%s)', async (name, errorType, message) => {
    const res = await serval.invoke(name, {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(errorOf(res).errorType).toBe(errorType);
    expect(errorOf(res).errorMessage).toContain(message);
  });

  it('timeout: Sandbox.Timedout', async () => {
    const res = await serval.invoke('py-timeout', {});
    expect(errorOf(res).errorMessage).toMatch(/Task timed out after 1\.00 seconds$/);
  });

  it('exit-mid: Runtime.ExitError with the exit status', async () => {
    const res = await serval.invoke('py-exit-mid', {});
    expect(errorOf(res)).toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(errorOf(res).errorMessage).toMatch(/exit status 3$/);
    expect(res.logTail).toContain('about to exit');
  });

  it('big-response: Function.ResponseSizeTooLarge', async () => {
    const res = await serval.invoke('py-big-response', {});
    expect(errorOf(res).errorType).toBe('Function.ResponseSizeTooLarge');
  });

  it('tmp-write: /tmp persists across invocations of the environment', async () => {
    await serval.invoke('py-tmp-write', { key: 'c', value: 'first' });
    const res = await serval.invoke('py-tmp-write', { key: 'c', value: 'second' });
    expect(res.json()).toMatchObject({ previous: 'first' });
    if (serval.isolatesTmp) expect(res.json()).toMatchObject({ previousLiteral: 'first', tmpdir: '/tmp' });
  });

  it('logs: print stays raw; logging records carry level, time and request id, one line each', async () => {
    const res = await serval.invoke('py-logs', {});
    const id = res.headers.get('x-amzn-requestid');
    expect(res.logTail).toMatch(/^printed line$/m);
    expect(res.logTail).toMatch(
      new RegExp(
        `^\\[INFO\\]\\t\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z\\t${id}\\tinfo line$`,
        'm',
      ),
    );
    expect(res.logTail).toMatch(new RegExp(`^\\[WARNING\\]\\t.*\\t${id}\\twarning line\\rsecond line$`, 'm'));
    expect(res.logTail).not.toContain('debug line');
  });
});
