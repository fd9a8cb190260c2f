// The Runtime API's streaming response mode (reference §1.3) as a custom runtime uses it with nothing but
// HTTP: chunks relayed as written, and an error in trailers. (The 200 MB limit is crossed cheaply in
// runtime-shims/agent/runtime-api/streamed-response.test.ts with a smaller limit.)
import { InvokeWithResponseStreamCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readResponseStream, servalLambdaClient } from '../support/lambda-client.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
let lambda: LambdaClient;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'stream-probe',
        runtime: 'provided',
        codePath: fixture('provided/stream-probe'),
        timeoutSeconds: 30,
      },
    ],
  });
  lambda = servalLambdaClient(serval.url);
});
afterAll(async () => {
  lambda?.destroy();
  await serval?.stop();
});

async function streamed(scenario: string) {
  const out = await lambda.send(
    new InvokeWithResponseStreamCommand({
      FunctionName: 'stream-probe',
      Payload: JSON.stringify({ scenario }),
    }),
  );
  return readResponseStream(out);
}

/** Waits for the runtime's own log line saying what the Runtime API answered it. */
async function answered(scenario: string): Promise<string> {
  const pattern = new RegExp(`stream-probe: ${scenario} answered (\\S+)`);
  for (;;) {
    const line = serval.logs('stream-probe').find((l) => pattern.test(l));
    if (line) return pattern.exec(line)![1]!;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a custom runtime in streaming mode', () => {
  it('its chunks reach the caller and the Runtime API accepts the stream', async () => {
    const { body, complete } = await streamed('chunks');
    expect(body).toBe('alpha beta gamma');
    expect(complete?.ErrorCode).toBeUndefined();
    expect(await answered('chunks')).toBe('202');
  });

  it('an error in trailers is the invocation error, after the bytes already sent', async () => {
    const { body, complete } = await streamed('trailers');
    expect(body).toBe('partial ');
    expect(complete).toEqual({
      ErrorCode: 'Custom.Broken',
      ErrorDetails: 'custom runtime failed mid-stream',
    });
    const buffered = await serval.invoke('stream-probe', { scenario: 'trailers' });
    expect(buffered.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(buffered.json()).toEqual({
      errorType: 'Custom.Broken',
      errorMessage: 'custom runtime failed mid-stream',
    });
  });
});
