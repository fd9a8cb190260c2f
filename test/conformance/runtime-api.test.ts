// Runtime API conformance of the agent (reference §1), driven by a real custom runtime that probes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutFirstHop } from '../support/lineage.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;

beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'probe',
        runtime: 'provided',
        codePath: fixture('provided/protocol-probe'),
        timeoutSeconds: 5,
        memoryMB: 256,
        environment: { USER_VAR: 'kept' },
      },
      { name: 'init-error', runtime: 'provided', codePath: fixture('provided/init-error') },
      { name: 'exit-on-init', runtime: 'provided', codePath: fixture('provided/exit-on-init') },
      { name: 'no-bootstrap', runtime: 'provided', codePath: fixture('provided/no-bootstrap') },
      {
        name: 'sleepy-init',
        runtime: 'provided',
        codePath: fixture('provided/sleepy-init'),
        timeoutSeconds: 2,
        environment: { INIT_SLEEP_MS: '10500' },
      },
    ],
  });
});
afterAll(() => serval.stop());

describe('/next', () => {
  it('carries the request id, absolute deadline, invoked ARN, trace id and decoded client context', async () => {
    const clientContext = { custom: { tenant: 'acme' }, env: { platform: 'test' } };
    const before = Date.now();
    const res = await serval.invoke(
      'probe',
      { scenario: 'headers' },
      {
        'X-Amz-Client-Context': Buffer.from(JSON.stringify(clientContext)).toString('base64'),
        'X-Amzn-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
      },
    );
    expect(res.status).toBe(200);
    const { headers, now } = res.json() as { headers: Record<string, string>; now: number };
    expect(headers['lambda-runtime-aws-request-id']).toBe(res.headers.get('x-amzn-requestid'));
    expect(headers['lambda-runtime-aws-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    expect(deadline).toBeGreaterThan(before + 4000);
    expect(deadline).toBeLessThanOrEqual(now + 5000 + 50);
    expect(headers['lambda-runtime-invoked-function-arn']).toBe(
      'arn:serval:lambda:local:default:function:probe',
    );
    expect(withoutFirstHop(headers['lambda-runtime-trace-id'])).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    );
    expect(JSON.parse(headers['lambda-runtime-client-context']!)).toEqual(clientContext);
    expect(headers['content-type']).toBe('application/json');
    expect(headers).not.toHaveProperty('lambda-runtime-cognito-identity');
  });

  it('generates a well-formed trace id when the caller sends none, and shows a qualified ARN as invoked', async () => {
    const res = await serval.invoke('probe:$LATEST', { scenario: 'headers' });
    const { headers } = res.json() as { headers: Record<string, string> };
    expect(headers['lambda-runtime-trace-id']).toMatch(
      /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:1$/,
    );
    expect(headers['lambda-runtime-invoked-function-arn']).toBe(
      'arn:serval:lambda:local:default:function:probe:$LATEST',
    );
  });

  it('answers a second /next during an invocation, and /init/error after init, with 403 InvalidStateTransition', async () => {
    const res = await serval.invoke('probe', { scenario: 'next-while-running' });
    const { again, initError } = res.json() as Record<
      string,
      { status: number; body: { errorType: string; errorMessage: string } }
    >;
    expect(again!.status).toBe(403);
    expect(again!.body.errorType).toBe('InvalidStateTransition');
    expect(again!.body.errorMessage).toMatch(/^State transition from Running to Ready failed for runtime/);
    expect(initError!.status).toBe(403);
    expect(initError!.body.errorType).toBe('InvalidStateTransition');
  });
});

describe('/response and /error', () => {
  it('rejects a response carrying a request id other than the active one (400 InvalidRequestID)', async () => {
    const res = await serval.invoke('probe', { scenario: 'stale-id' });
    const { wrong } = res.json() as { wrong: { status: number; body: unknown } };
    expect(wrong.status).toBe(400);
    expect(wrong.body).toEqual({ errorMessage: 'Invalid request ID', errorType: 'InvalidRequestID' });
  });

  it('accepts the first response (202 {"status":"OK"}) and refuses a second with 403', async () => {
    const res = await serval.invoke('probe', { scenario: 'double-response' });
    expect(res.json()).toEqual({ first: true });
    const [report] = (await serval.invoke('probe', { scenario: 'report' })).json() as Array<
      Record<string, { status: number; body: Record<string, string> }>
    >;
    expect(report!.first).toMatchObject({ status: 202, body: { status: 'OK' } });
    expect(report!.second!.status).toBe(403);
    expect(report!.second!.body.errorType).toBe('InvalidStateTransition');
  });

  it('passes an /error body to the caller verbatim with X-Amz-Function-Error, and refuses a later /response', async () => {
    const res = await serval.invoke('probe', { scenario: 'error-then-response' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toEqual({ errorType: 'Custom', errorMessage: 'boom' });
    const [report] = (await serval.invoke('probe', { scenario: 'report' })).json() as Array<
      Record<string, { status: number }>
    >;
    expect(report!.error!.status).toBe(202);
    expect(report!.response!.status).toBe(403);
  });

  it('answers a response above 6 MB with 413 and gives the caller Function.ResponseSizeTooLarge', async () => {
    const res = await serval.invoke('probe', { scenario: 'oversize' });
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toEqual({
      errorType: 'Function.ResponseSizeTooLarge',
      errorMessage: `Response payload size (${6 * 1024 * 1024 + 200} bytes) exceeded maximum allowed payload size (6291556 bytes).`,
    });
    const [report] = (await serval.invoke('probe', { scenario: 'report' })).json() as Array<
      Record<string, { status: number; body: unknown }>
    >;
    expect(report!.big).toEqual({
      status: 413,
      headers: expect.any(Object),
      body: {
        errorMessage: 'Exceeded maximum allowed payload size (6291556 bytes).',
        errorType: 'RequestEntityTooLarge',
      },
    });
  });

  it('refuses an unknown response mode with 400 and fails the invocation with Runtime.InvalidResponseModeHeader', async () => {
    const res = await serval.invoke('probe', { scenario: 'bad-mode' });
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const [report] = (await serval.invoke('probe', { scenario: 'report' })).json() as Array<
      Record<string, { status: number; body: unknown }>
    >;
    expect(report!.bad!.status).toBe(400);
    expect(report!.bad!.body).toEqual({
      errorMessage: 'Invalid function response mode',
      errorType: 'InvalidFunctionResponseMode',
    });
  });
});

describe('environment variables', () => {
  it('sets Lambda reserved and default variables, keeps user variables, and hides the agent credential', async () => {
    const res = await serval.invoke('probe', { scenario: 'headers' });
    const { env, cwd } = res.json() as { env: Record<string, string>; cwd: string };
    expect(env).toMatchObject({
      AWS_LAMBDA_FUNCTION_NAME: 'probe',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_LOG_GROUP_NAME: '/serval/default/probe',
      AWS_REGION: 'local',
      AWS_DEFAULT_REGION: 'local',
      LAMBDA_TASK_ROOT: fixture('provided/protocol-probe'),
      _HANDLER: '',
      TZ: 'UTC',
      LANG: 'en_US.UTF-8',
      USER_VAR: 'kept',
    });
    expect(env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(env.AWS_LAMBDA_RUNTIME_API).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(env).not.toHaveProperty('AWS_EXECUTION_ENV'); // not set for custom runtimes
    expect(Object.keys(env).filter((k) => k.startsWith('SERVAL_') && k !== 'SERVAL_CACHE')).toEqual([]);
    expect(cwd).toBe(fixture('provided/protocol-probe'));
  });
});

describe('init', () => {
  it('returns the runtime-reported init error as the invocation result', async () => {
    const res = await serval.invoke('init-error', {});
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toEqual({
      errorType: 'Runtime.ConfigError',
      errorMessage: 'missing DATABASE_URL',
      stackTrace: [],
    });
    expect(res.logTail).toContain('init error accepted with 202 {"status":"OK"}');
    expect(res.logTail).toMatch(
      /INIT_REPORT Init Duration: [\d.]+ ms\tPhase: init\tStatus: error\tError Type: Runtime.ConfigError/,
    );
  });

  it('reports a runtime that exits during init as Runtime.ExitError with its exit status', async () => {
    const res = await serval.invoke('exit-on-init', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    const requestId = res.headers.get('x-amzn-requestid');
    expect(res.json()).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${requestId} Error: Runtime exited with error: exit status 7`,
    });
    expect(res.logTail).toContain('starting and failing at once');
  });

  it('reports a missing bootstrap as Runtime.InvalidEntrypoint', async () => {
    const res = await serval.invoke('no-bootstrap', {});
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toMatchObject({ errorType: 'Runtime.InvalidEntrypoint' });
    expect((res.json() as { errorMessage: string }).errorMessage).toMatch(
      /Couldn't find valid bootstrap\(s\): \[.*\/bootstrap\]/,
    );
  });

  it('retries an init that overruns the 10 s limit inside the invoke phase, bounded by the function timeout', async () => {
    const res = await serval.invoke('sleepy-init', { x: 1 });
    expect(res.logTail).toMatch(/INIT_REPORT Init Duration: 10000\.00 ms\tPhase: init\tStatus: timeout/);
    // The retried init also sleeps 10.5 s, longer than the 2 s function timeout.
    expect(res.json()).toMatchObject({ errorType: 'Sandbox.Timedout' });
  }, 30_000);
});
