// The Invoke API's request validation and error wire format (reference §4), on the real gateway.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [{ name: 'probe', runtime: 'provided', codePath: fixture('provided/protocol-probe') }],
  });
});
afterAll(() => serval.stop());

describe('Invoke API', () => {
  it('answers an unknown function with 404 ResourceNotFoundException and x-amzn-ErrorType', async () => {
    const res = await serval.invoke('missing', {});
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('ResourceNotFoundException');
    expect(res.json()).toEqual({
      Type: 'User',
      Message: 'Function not found: arn:serval:lambda:local:default:function:missing',
    });
  });

  it('answers an unknown qualifier with 404 naming the qualified ARN', async () => {
    const res = await serval.invoke('probe:7', {});
    expect(res.status).toBe(404);
    expect(res.json()).toMatchObject({
      Message: 'Function not found: arn:serval:lambda:local:default:function:probe:7',
    });
  });

  it('accepts full and partial ARNs', async () => {
    for (const name of ['arn:serval:lambda:local:default:function:probe', 'default:function:probe:$LATEST']) {
      const res = await serval.invoke(name, { scenario: 'echo' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-amz-executed-version')).toBe('$LATEST');
    }
  });

  it('rejects a qualifier that contradicts the one in the name', async () => {
    const res = await fetch(`${serval.url}/2015-03-31/functions/probe:$LATEST/invocations?Qualifier=1`, {
      method: 'POST',
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
  });

  it('rejects a payload that is not JSON with 400 InvalidRequestContentException', async () => {
    const res = await serval.invoke('probe', 'not json{');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('InvalidRequestContentException');
    expect(res.json()).toMatchObject({
      Type: 'User',
      message: expect.stringMatching(/^Could not parse request body into json/),
    });
  });

  it('rejects a payload over 6 MB with 413 RequestTooLargeException', async () => {
    const res = await serval.invoke('probe', JSON.stringify({ big: 'x'.repeat(6 * 1024 * 1024) }));
    expect(res.status).toBe(413);
    expect(res.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');
    expect(res.json()).toMatchObject({ Type: 'User', message: expect.stringContaining('6291456') });
  });

  it('answers DryRun with 204 without invoking', async () => {
    const starts = () => serval.logs('probe').filter((l) => l.startsWith('START ')).length;
    await new Promise((r) => setTimeout(r, 300)); // earlier invocations' log lines settle
    const before = starts();
    const res = await serval.invoke('probe', {}, { 'X-Amz-Invocation-Type': 'DryRun' });
    expect(res.status).toBe(204);
    await new Promise((r) => setTimeout(r, 300));
    expect(starts()).toBe(before);
  });

  it('accepts an Event invocation with 202 and runs it in the background under the same request id', async () => {
    const res = await serval.invoke('probe', { scenario: 'log' }, { 'X-Amz-Invocation-Type': 'Event' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const id = res.headers.get('x-amzn-requestid')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => serval.logs('probe'), { timeout: 10_000 }).toContain(`END RequestId: ${id}`);
    expect(serval.logs('probe')).toContain(`line one for ${id}`);
  });

  it('rejects an Event payload over 1 MB with 413', async () => {
    const res = await serval.invoke('probe', JSON.stringify({ big: 'x'.repeat(1024 * 1024) }), {
      'X-Amz-Invocation-Type': 'Event',
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('x-amzn-errortype')).toBe('RequestTooLargeException');
  });

  it('answers an unknown route with UnknownOperationException, never a stack trace', async () => {
    const res = await fetch(`${serval.url}/2015-03-31/functions/probe/nope`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(await res.text()).not.toMatch(/at .*\.ts/);
  });

  it('delivers an empty body as {}', async () => {
    const res = await fetch(`${serval.url}/2015-03-31/functions/probe/invocations`, { method: 'POST' });
    expect(await res.json()).toMatchObject({ event: {} });
  });

  it('never runs two invocations in one environment at once', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => serval.invoke('probe', { scenario: 'sleep', ms: 2_000 })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
    const runs = results.map((r) => r.json() as { runtime: string; start: number; end: number });
    for (const a of runs) {
      for (const b of runs) {
        if (a !== b && a.runtime === b.runtime) expect(a.end <= b.start || b.end <= a.start).toBe(true);
      }
    }
    expect(new Set(runs.map((r) => r.runtime)).size).toBeGreaterThan(1);
  });
});
