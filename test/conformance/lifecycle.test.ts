// Environment lifecycle (reference §1.7, §11): timeouts, crashes, re-init, /tmp, and the log stream.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

let serval: TestServal;

beforeAll(async () => {
  serval = await startServal({
    functions: [
      { name: 'probe', runtime: 'provided', codePath: fixture('provided/protocol-probe'), timeoutSeconds: 1 },
      { name: 'tmp-a', runtime: 'provided', codePath: fixture('provided/protocol-probe') },
      { name: 'tmp-b', runtime: 'provided', codePath: fixture('provided/protocol-probe') },
    ],
  });
});
afterAll(() => serval.stop());

const REPORT =
  /REPORT RequestId: ([0-9a-f-]{36})\tDuration: \d+\.\d{2} ms\tBilled Duration: (\d+) ms\tMemory Size: 128 MB\tMax Memory Used: (\d+) MB/;

describe('timeouts', () => {
  it('kills a runtime that overruns, answers Sandbox.Timedout, and re-initialises on the next invocation', async () => {
    const warm = await serval.invoke('probe', { scenario: 'pid' });
    const first = warm.json() as { pid: number; runtime: string };

    const res = await serval.invoke('probe', { scenario: 'sleep', ms: 5000 });
    const requestId = res.headers.get('x-amzn-requestid');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toEqual({
      errorType: 'Sandbox.Timedout',
      errorMessage: `RequestId: ${requestId} Error: Task timed out after 1.00 seconds`,
    });
    expect(res.logTail).toMatch(
      new RegExp(`\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z ${requestId} Task timed out after 1.00 seconds`),
    );
    // The runtime process is gone. A sandboxed one's pid is its PID namespace's, which means nothing here.
    if (!serval.isolatesTmp) await expect.poll(() => isAlive(first.pid), { timeout: 2000 }).toBe(false);

    const next = await serval.invoke('probe', { scenario: 'pid' });
    expect(next.headers.get('x-amz-function-error')).toBeNull();
    expect((next.json() as { runtime: string }).runtime).not.toBe(first.runtime);
    expect(next.logTail).toMatch(/Init Duration: \d+\.\d{2} ms\t\n$/);
  });
});

describe('runtime exits', () => {
  it('reports an exit during an invocation as Runtime.ExitError with the exit status', async () => {
    const res = await serval.invoke('probe', { scenario: 'exit', code: 3 });
    expect(res.headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(res.json()).toEqual({
      errorType: 'Runtime.ExitError',
      errorMessage: `RequestId: ${res.headers.get('x-amzn-requestid')} Error: Runtime exited with error: exit status 3`,
    });
  });

  it('says "without providing a reason" for exit status 0 and names the signal of a killed runtime', async () => {
    const clean = await serval.invoke('probe', { scenario: 'exit', code: 0 });
    expect((clean.json() as { errorMessage: string }).errorMessage).toMatch(
      /Error: Runtime exited without providing a reason$/,
    );
    const killed = await serval.invoke('probe', { scenario: 'kill-self' });
    expect((killed.json() as { errorMessage: string }).errorMessage).toMatch(
      /Error: Runtime exited with error: signal: killed$/,
    );
    const after = await serval.invoke('probe', { scenario: 'hello' });
    expect(after.headers.get('x-amz-function-error')).toBeNull();
    expect(after.logTail).toContain('Init Duration:');
  });
});

describe('/tmp', () => {
  it('persists across invocations of one environment, also across a runtime reset, and is not shared between functions', async () => {
    const first = await serval.invoke('tmp-a', { scenario: 'write-tmp', value: 'one' });
    expect(first.json()).toMatchObject({ previous: null });
    const second = await serval.invoke('tmp-a', { scenario: 'write-tmp', value: 'two' });
    expect(second.json()).toMatchObject({ previous: 'one' });
    await serval.invoke('tmp-a', { scenario: 'exit', code: 1 }); // the runtime resets; the environment stays
    const third = await serval.invoke('tmp-a', { scenario: 'write-tmp', value: 'three' });
    expect(third.json()).toMatchObject({ previous: 'two' });
    const other = await serval.invoke('tmp-b', { scenario: 'write-tmp', value: 'b' });
    expect(other.json()).toMatchObject({ previous: null });
  });
});

describe('/tmp at its literal path', () => {
  it('is private to each environment where the OS offers mount namespaces', async (ctx) => {
    if (!serval.isolatesTmp) ctx.skip();
    const a1 = await serval.invoke('tmp-a', { scenario: 'write-literal-tmp', value: 'from-a' });
    expect(a1.json()).toMatchObject({ previous: null, tmpdir: '/tmp' });
    const a2 = await serval.invoke('tmp-a', { scenario: 'write-literal-tmp', value: 'again-a' });
    expect(a2.json()).toMatchObject({ previous: 'from-a' });
    const b = await serval.invoke('tmp-b', { scenario: 'write-literal-tmp', value: 'from-b' });
    expect(b.json()).toMatchObject({ previous: null });
  });

  // #12.1: in a clone under /tmp the gateway fell back to TMPDIR, and a newcomer's first `npm test` failed.
  it('is private also when the data directory and the code live under the host /tmp', async (ctx) => {
    if (!serval.isolatesTmp) ctx.skip();
    const work = mkdtempSync(join(tmpdir(), 'serval-lifecycle-'));
    const code = join(work, 'code');
    cpSync(fixture('provided/protocol-probe'), code, { recursive: true });
    const inTmp = await startServal({
      functions: [{ name: 'tmp-c', runtime: 'provided', codePath: code }],
      config: { dataDir: join(work, 'data') },
    });
    try {
      const first = await inTmp.invoke('tmp-c', { scenario: 'write-literal-tmp', value: 'from-c' });
      expect(first.json()).toMatchObject({ previous: null, tmpdir: '/tmp' });
      const again = await inTmp.invoke('tmp-c', { scenario: 'write-literal-tmp', value: 'again-c' });
      expect(again.json()).toMatchObject({ previous: 'from-c' });
    } finally {
      await inTmp.stop();
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('log stream', () => {
  it('frames each invocation with START, END and REPORT and keeps the runtime output between them', async () => {
    const res = await serval.invoke('probe', { scenario: 'log' });
    const id = res.headers.get('x-amzn-requestid')!;
    const lines = res.logTail.split('\n').slice(0, -1);
    expect(lines[0]).toBe(`START RequestId: ${id} Version: $LATEST`);
    expect(lines).toContain(`line one for ${id}`);
    expect(lines).toContain('line two');
    expect(lines).toContain('an error line');
    expect(lines.at(-2)).toBe(`END RequestId: ${id}`);
    const report = REPORT.exec(lines.at(-1)!);
    expect(report?.[1]).toBe(id);
    expect(Number(report?.[3])).toBeGreaterThan(10); // a node process uses well over 10 MB
    // The same lines reached the function's log stream, in order.
    // The stream is written asynchronously, after the response: wait for this invocation's REPORT.
    await expect
      .poll(() => serval.logs('probe').some((l) => l.startsWith(`REPORT RequestId: ${id}`)))
      .toBe(true);
    const stream = serval.logs('probe');
    const start = stream.indexOf(`START RequestId: ${id} Version: $LATEST`);
    expect(stream.slice(start, start + lines.length)).toEqual(lines);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
