// The README's promise: `serval dev examples` serves every example, and curl gets the echo back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningCli, startCli } from '../support/cli.ts';

let serval: RunningCli;
beforeAll(async () => {
  serval = await startCli(['dev', 'examples']);
});
afterAll(() => serval.stop());

async function invoke(name: string, body: string) {
  const res = await fetch(`${serval.url}/2015-03-31/functions/${name}/invocations`, { method: 'POST', body });
  return {
    status: res.status,
    text: await res.text(),
    functionError: res.headers.get('x-amz-function-error'),
  };
}

describe('examples', () => {
  it.each(['echo', 'echo-python', 'echo-bootstrap'])('%s returns the event it was given', async (name) => {
    const res = await invoke(name, '{"a":1}');
    expect(res).toEqual({ status: 200, text: '{"a":1}', functionError: null });
  });

  it('hello-inline runs inline code', async () => {
    const res = await invoke('hello-inline', '{"name":"Serval"}');
    expect(JSON.parse(res.text)).toMatchObject({ message: 'Hello, Serval!' });
  });

  it('nightly-report keeps its history in /tmp across warm invocations', async () => {
    const event = (time: string) =>
      JSON.stringify({ 'detail-type': 'Scheduled Event', source: 'aws.events', time, detail: {} });
    const first = JSON.parse((await invoke('nightly-report', event('2026-11-24T03:00:00Z'))).text);
    const second = JSON.parse((await invoke('nightly-report', event('2026-11-25T03:00:00Z'))).text);
    expect(second).toEqual({
      runs: first.runs + 1,
      lastRun: '2026-11-25T03:00:00Z',
      function: 'nightly-report',
    });
    const wrong = await invoke('nightly-report', '{}');
    expect(wrong.functionError).toBe('Unhandled');
    expect(JSON.parse(wrong.text)).toMatchObject({
      errorType: 'ValueError',
      errorMessage: 'expected an EventBridge Scheduled Event',
    });
  });

  it('prints each function log line with the function name', async () => {
    await expect
      .poll(() => serval.stdout())
      .toMatch(/\[echo\] START RequestId: [0-9a-f-]{36} Version: \$LATEST/);
    await expect.poll(() => serval.stdout()).toMatch(/\[echo-python\] REPORT RequestId: /);
  });
});

describe('a broken manifest beside good ones', () => {
  let mixed: RunningCli;
  beforeAll(async () => {
    mixed = await startCli(['dev', 'test/fixtures/manifests/mixed']);
  });
  afterAll(() => mixed.stop());

  it('is reported in one line naming file, document and field, and the good functions serve', async () => {
    const lines = mixed.stderr().trim().split('\n');
    expect(lines).toContainEqual(
      expect.stringMatching(/^serval: skipped .*broken\.yml \(document 2\): spec\.timeoutSeconds: /),
    );
    expect(lines.filter((l) => l.includes('broken.yml (document 2)'))).toHaveLength(1);
    const res = await fetch(`${mixed.url}/2015-03-31/functions/good-one/invocations`, {
      method: 'POST',
      body: '{"hi":1}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ event: { hi: 1 } });
  });
});

describe('serval publish and serval alias', () => {
  it('publish a version and point an alias at it with a weight', async () => {
    const { execFileSync } = await import('node:child_process');
    const run = (...args: string[]) =>
      execFileSync(process.execPath, ['bin/serval.mjs', ...args, '--endpoint', serval.url], {
        encoding: 'utf8',
      }).trim();
    expect(run('publish', 'echo')).toMatch(
      /^echo: version 1 \(arn:serval:lambda:local:default:function:echo:1\)$/,
    );
    expect(run('alias', 'echo', 'live', '--version', '1')).toBe('echo:live -> version 1');
    const res = await fetch(`${serval.url}/2015-03-31/functions/echo:live/invocations`, {
      method: 'POST',
      body: '{"v":1}',
    });
    expect(res.headers.get('x-amz-executed-version')).toBe('1');
    expect(await res.json()).toEqual({ v: 1 });
    expect(() => run('alias', 'echo', 'bad', '--version', '9')).toThrow(/ResourceNotFoundException/);
  });
});
