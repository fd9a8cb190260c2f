// Starts the real runtime process and checks the context object and the function log it writes to stdout.
import { afterEach, describe, expect, it } from 'vitest';
import { type RuntimeUnderTest, startRuntime } from './test-support/runtime-api-double.ts';

const running: RuntimeUnderTest[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function start(fixture: string, env: Record<string, string> = {}) {
  const under = await startRuntime(fixture, env);
  running.push(under);
  return under;
}

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

describe('context', () => {
  it('carries every field from the headers and the environment', async () => {
    const { api } = await start('context', { AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' });
    // A deadline far off, checked loosely: on a loaded machine one invocation can take seconds.
    const deadlineMs = Date.now() + 300_000;
    const posted = await api.invoke({
      requestId: 'req-ctx',
      deadlineMs,
      headers: {
        'Lambda-Runtime-Trace-Id': TRACE,
        'Lambda-Runtime-Client-Context': '{"custom":{"k":"v"},"env":{"locale":"en"}}',
        'Lambda-Runtime-Cognito-Identity': '{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}',
        'Lambda-Runtime-Aws-Tenant-Id': 'tenant-7',
      },
    });
    const context = posted.json as Record<string, unknown>;
    expect(context).toMatchObject({
      awsRequestId: 'req-ctx',
      invokedFunctionArn: 'arn:serval:lambda:local:default:function:fixture',
      functionName: 'context',
      functionVersion: '$LATEST',
      memoryLimitInMB: '512',
      logGroupName: '/serval/default/context',
      logStreamName: '2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef',
      clientContext: { custom: { k: 'v' }, env: { locale: 'en' } },
      identity: { cognitoIdentityId: 'id-1', cognitoIdentityPoolId: 'pool-1' },
      tenantId: 'tenant-7',
      callbackWaitsForEmptyEventLoop: true,
      traceId: TRACE,
    });
    expect(context.remainingTimeInMillis).toBeGreaterThan(240_000);
    expect(context.remainingTimeInMillis).toBeLessThanOrEqual(300_000);
  });

  it('removes _X_AMZN_TRACE_ID and the optional fields when the next invocation has none', async () => {
    const { api } = await start('context');
    await api.invoke({ headers: { 'Lambda-Runtime-Trace-Id': TRACE } });
    const context = (await api.invoke()).json;
    expect(context).toMatchObject({ traceId: null, clientContext: null, identity: null, tenantId: null });
  });

  it('fails the invocation when the client context is not JSON', async () => {
    const { api } = await start('context');
    const body = (await api.invoke({ headers: { 'Lambda-Runtime-Client-Context': '{oops' } })).json;
    expect(body).toMatchObject({
      errorType: 'Error',
      errorMessage: expect.stringMatching(/^Cannot parse ClientContext/),
    });
  });
});

describe('function log', () => {
  it('writes Text records with time, request id and level, one line per record', async () => {
    const { api, runtime } = await start('logs');
    await api.invoke({ requestId: 'req-log' });
    const lines = runtime.stdout.trimEnd().split('\n');
    const fields = lines.map((l) => l.split('\t'));
    expect(fields.every(([time, id]) => /^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(time!) && id === 'req-log')).toBe(
      true,
    );
    expect(fields.map((f) => [f[2], f[3]])).toEqual([
      ['INFO', 'log line'],
      ['INFO', 'info line'],
      ['WARN', 'warn line'],
      ['ERROR', 'error line'],
      ['DEBUG', 'debug line'],
      ['TRACE', 'trace line'],
      ['INFO', 'first line\rsecond line\rthird line'],
      ['INFO', 'formatted answer=42'],
      ['INFO', '{ structured: true, nested: { n: 1 } }'],
      ['ERROR', expect.stringMatching(/^Error: logged error\r {4}at handler/)],
    ]);
  });

  it('writes JSON records and drops those below AWS_LAMBDA_LOG_LEVEL', async () => {
    const { api, runtime } = await start('logs', {
      AWS_LAMBDA_LOG_FORMAT: 'JSON',
      AWS_LAMBDA_LOG_LEVEL: 'WARN',
    });
    await api.invoke({ requestId: 'req-json', headers: { 'Lambda-Runtime-Aws-Tenant-Id': 'tenant-j' } });
    const records = runtime.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((r) => [r.level, r.requestId, r.tenantId])).toEqual([
      ['WARN', 'req-json', 'tenant-j'],
      ['ERROR', 'req-json', 'tenant-j'],
      ['ERROR', 'req-json', 'tenant-j'],
    ]);
    expect(records[0].message).toBe('warn line');
    expect(records[2].message).toMatchObject({ errorType: 'Error', errorMessage: 'logged error' });
  });

  it('logs invoke errors as JSON records in JSON format', async () => {
    const { api, runtime } = await start('throws', { AWS_LAMBDA_LOG_FORMAT: 'JSON' });
    await api.invoke({ requestId: 'req-err' });
    const record = JSON.parse(runtime.stdout.trimEnd());
    expect(record).toMatchObject({
      level: 'ERROR',
      requestId: 'req-err',
      message: { errorType: 'Error', errorMessage: 'handler failed on purpose' },
    });
  });
});
