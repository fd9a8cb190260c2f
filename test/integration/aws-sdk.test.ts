// The AWS SDK for JavaScript v3, pointed at the gateway, reads the same fields it reads from AWS Lambda.
import {
  InvokeCommand,
  type LambdaClient,
  ResourceNotFoundException,
  TooManyRequestsException,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servalLambdaClient } from '../support/lambda-client.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
let lambda: LambdaClient;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'echo',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'echo-esm'),
      },
      {
        name: 'context',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'context'),
      },
      {
        name: 'throws',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'throws'),
      },
      {
        name: 'off',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'echo-esm'),
        spec: { reservedConcurrency: 0 },
      },
    ],
  });
  lambda = servalLambdaClient(serval.url);
});
afterAll(async () => {
  lambda.destroy();
  await serval.stop();
});

const json = (bytes: Uint8Array | undefined) => JSON.parse(Buffer.from(bytes ?? []).toString('utf8'));

describe('AWS SDK v3 LambdaClient', () => {
  it('RequestResponse: payload, StatusCode and ExecutedVersion', async () => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: JSON.stringify({ a: 1 }) }),
    );
    expect(out.StatusCode).toBe(200);
    expect(out.ExecutedVersion).toBe('$LATEST');
    expect(out.FunctionError).toBeUndefined();
    expect(json(out.Payload)).toEqual({ a: 1 });
  });

  it('LogType Tail returns the invocation log in LogResult', async () => {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', Payload: '{}', LogType: 'Tail' }),
    );
    const log = Buffer.from(out.LogResult!, 'base64').toString();
    expect(log).toMatch(/^START RequestId: [0-9a-f-]{36} Version: \$LATEST$/m);
    expect(log).toMatch(/^REPORT RequestId: /m);
  });

  it('a qualifier and a client context reach the function', async () => {
    const clientContext = Buffer.from(JSON.stringify({ custom: { who: 'sdk' } })).toString('base64');
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: 'context', Qualifier: '$LATEST', ClientContext: clientContext }),
    );
    expect(json(out.Payload)).toMatchObject({
      invokedFunctionArn: 'arn:serval:lambda:local:default:function:context:$LATEST',
      clientContext: { custom: { who: 'sdk' } },
    });
  });

  it('a function error arrives as FunctionError with the error payload', async () => {
    const out = await lambda.send(new InvokeCommand({ FunctionName: 'throws', Payload: '{}' }));
    expect(out.StatusCode).toBe(200);
    expect(out.FunctionError).toBe('Unhandled');
    expect(json(out.Payload)).toMatchObject({
      errorType: 'Error',
      errorMessage: 'handler failed on purpose',
    });
  });

  it('Event returns 202 and DryRun 204', async () => {
    const event = await lambda.send(
      new InvokeCommand({ FunctionName: 'echo', InvocationType: 'Event', Payload: '{}' }),
    );
    expect(event.StatusCode).toBe(202);
    const dry = await lambda.send(new InvokeCommand({ FunctionName: 'echo', InvocationType: 'DryRun' }));
    expect(dry.StatusCode).toBe(204);
  });

  it('maps errors to the SDK exception classes', async () => {
    await expect(lambda.send(new InvokeCommand({ FunctionName: 'missing' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const throttled = await lambda.send(new InvokeCommand({ FunctionName: 'off' })).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(TooManyRequestsException);
    expect((throttled as TooManyRequestsException).Reason).toBe(
      'ReservedFunctionConcurrentInvocationLimitExceeded',
    );
  });
});
