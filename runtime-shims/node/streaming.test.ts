// Starts the real runtime process on the streaming fixture and checks the streamed /response requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delay, type RuntimeUnderTest, startRuntime } from './test-support/runtime-api-double.ts';

let under: RuntimeUnderTest;
beforeAll(async () => {
  under = await startRuntime('streaming');
});
afterAll(async () => {
  await under.stop();
});

describe('streaming handlers', () => {
  it('streams chunks as a chunked POST in streaming mode', async () => {
    const posted = await under.api.invoke({ event: { chunks: ['one ', 'two ', 'three'] } });
    expect(posted.headers['lambda-runtime-function-response-mode']).toBe('streaming');
    expect(posted.headers['transfer-encoding']).toBe('chunked');
    expect(posted.headers.trailer).toBe(
      'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
    );
    expect(posted.headers['content-type']).toBe('text/plain');
    expect(posted.body.toString()).toBe('one two three');
    expect(posted.trailers).toEqual({});
  });

  it('prefixes an HttpResponseStream body with the JSON prelude and eight NUL bytes', async () => {
    const posted = await under.api.invoke({ event: { mode: 'http' }, requestId: 'req-http' });
    expect(posted.headers['content-type']).toBe('application/vnd.awslambda.http-integration-response');
    const body = posted.body;
    const split = body.indexOf(Buffer.alloc(8));
    expect(JSON.parse(body.subarray(0, split).toString())).toEqual({
      statusCode: 201,
      headers: { 'x-serval': 'streamed' },
      cookies: ['a=1'],
    });
    expect(body.subarray(split + 8).toString()).toBe('hello from req-http');
  });

  it('sends written objects as JSON', async () => {
    const posted = await under.api.invoke({ event: { mode: 'object' } });
    expect(posted.headers['content-type']).toBe('application/json');
    expect(posted.json).toEqual({ streamed: true });
  });

  it('reports an error thrown mid-stream in trailers after the bytes already sent', async () => {
    const posted = await under.api.invoke({ event: { mode: 'fail-mid' } });
    expect(posted.body.toString()).toBe('partial ');
    expect(posted.trailers['lambda-runtime-function-error-type']).toBe('Error');
    const error = JSON.parse(
      Buffer.from(posted.trailers['lambda-runtime-function-error-body']!, 'base64').toString(),
    );
    expect(error).toMatchObject({ errorType: 'Error', errorMessage: 'stream broke' });
    expect(error.trace[0]).toBe('Error: stream broke');
  });

  it('does not finish a response the handler never ends (the agent times it out)', async () => {
    expect(await Promise.race([under.api.invoke({ event: { mode: 'not-ended' } }), delay(300)])).toBe(
      'timeout',
    );
  });
});
