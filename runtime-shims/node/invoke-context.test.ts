import { describe, expect, it } from 'vitest';
import type { FunctionEnvironment } from './config.ts';
import {
  attachInvocationFields,
  forwardTraceId,
  MissingRequestIdError,
  readInvokeHeaders,
} from './invoke-context.ts';

const FN: FunctionEnvironment = {
  functionName: 'thumbnail',
  functionVersion: '3',
  memoryLimitInMB: '256',
  logGroupName: '/serval/media/thumbnail',
  logStreamName: '2026/01/01/[3]abc',
};

const HEADERS = {
  'lambda-runtime-aws-request-id': 'req-1',
  'lambda-runtime-deadline-ms': '10000',
  'lambda-runtime-invoked-function-arn': 'arn:serval:lambda:local:media:function:thumbnail:live',
  'lambda-runtime-trace-id': 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1',
  'lambda-runtime-client-context': '{"custom":{"a":"b"},"env":{"platform":"x"}}',
  'lambda-runtime-cognito-identity': '{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}',
  'lambda-runtime-aws-tenant-id': 'tenant-1',
};

describe('readInvokeHeaders', () => {
  it('reads request id, tenant id and trace id', () => {
    expect(readInvokeHeaders(HEADERS)).toEqual({
      requestId: 'req-1',
      tenantId: 'tenant-1',
      traceId: 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1',
    });
  });

  it('refuses an invocation without a request id', () => {
    expect(() => readInvokeHeaders({})).toThrow(MissingRequestIdError);
  });
});

describe('forwardTraceId', () => {
  it('sets _X_AMZN_TRACE_ID and removes it when the next invocation has no trace header', () => {
    const env: NodeJS.ProcessEnv = {};
    forwardTraceId(env, 'Root=1-abc');
    expect(env._X_AMZN_TRACE_ID).toBe('Root=1-abc');
    forwardTraceId(env, undefined);
    expect('_X_AMZN_TRACE_ID' in env).toBe(false);
  });
});

describe('attachInvocationFields', () => {
  it('builds the context fields from headers and environment', () => {
    const base = { marker: true };
    const context = attachInvocationFields(base, HEADERS, FN, () => 7000);
    expect(context).toBe(base);
    expect(context).toMatchObject({
      marker: true,
      functionName: 'thumbnail',
      functionVersion: '3',
      memoryLimitInMB: '256',
      logGroupName: '/serval/media/thumbnail',
      logStreamName: '2026/01/01/[3]abc',
      invokedFunctionArn: 'arn:serval:lambda:local:media:function:thumbnail:live',
      awsRequestId: 'req-1',
      tenantId: 'tenant-1',
      clientContext: { custom: { a: 'b' }, env: { platform: 'x' } },
      identity: { cognitoIdentityId: 'id', cognitoIdentityPoolId: 'pool' },
    });
    expect(context.getRemainingTimeInMillis()).toBe(3000);
  });

  it('leaves optional fields undefined and lets remaining time go negative', () => {
    let now = 9000;
    const context = attachInvocationFields(
      {},
      { 'lambda-runtime-aws-request-id': 'r', 'lambda-runtime-deadline-ms': '10000' },
      FN,
      () => now,
    );
    expect(context.clientContext).toBeUndefined();
    expect(context.identity).toBeUndefined();
    expect(context.tenantId).toBeUndefined();
    expect(context.getRemainingTimeInMillis()).toBe(1000);
    now = 10500;
    expect(context.getRemainingTimeInMillis()).toBe(-500);
  });

  it('throws a readable error for a client context that is not JSON', () => {
    expect(() =>
      attachInvocationFields({}, { ...HEADERS, 'lambda-runtime-client-context': 'nope' }, FN),
    ).toThrow(/^Cannot parse ClientContext as json: SyntaxError/);
  });
});
