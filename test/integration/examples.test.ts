// The README's promise: `serval dev examples` serves every example, and curl gets the echo back.

import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { type RunningCli, startCli } from '../support/cli.ts';
import { REPO_ROOT, testDataRoot } from '../support/serval.ts';

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

  it('greeter answers on its function URL; the path form, which every client resolves, is printed first', async () => {
    const id = functionUrlId('default', 'greeter', '$LATEST');
    expect(id).toBe('xhciw2ksxnklxnsxa5ycolpozdq7wcjw'); // the id examples/README.md shows
    expect(serval.stdout()).toContain(
      `greeter                  function URL ${serval.url}/lambda-url/${id}/ (or Host: ${id}.lambda-url.local.localhost)`,
    );
    const res = await fetch(`${serval.url}/lambda-url/${id}/?name=Ada`);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('Hello, Ada!\n');
  });

  it('prints each function log line with the function name', async () => {
    await expect
      .poll(() => serval.stdout())
      .toMatch(/\[echo\] START RequestId: [0-9a-f-]{36} Version: \$LATEST/);
    await expect.poll(() => serval.stdout()).toMatch(/\[echo-python\] REPORT RequestId: /);
  });
});

describe('examples/README.md', () => {
  it('describes every example manifest, and the commands it shows use a serval that is on PATH', () => {
    const readme = readFileSync(join(REPO_ROOT, 'examples/README.md'), 'utf8');
    for (const file of readdirSync(join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.yaml'))) {
      expect(readme).toContain(`\`${file}\``);
    }
    // A bare `serval …` command line is "command not found" in a clone; `npx serval` finds package.json "bin".
    expect(readme.split('\n').filter((l) => /^serval /.test(l))).toEqual([]);
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

describe('the versions and aliases walk-through of examples/README.md, as written', () => {
  // On a copy of examples/, since the walk-through edits a manifest.
  const copy = join(mkdtempSync(join(testDataRoot(), 'examples-copy-')), 'examples');
  let dev: RunningCli;
  beforeAll(async () => {
    cpSync(join(REPO_ROOT, 'examples'), copy, { recursive: true });
    dev = await startCli(['dev', copy]);
  });
  afterAll(async () => {
    await dev.stop();
    rmSync(dirname(copy), { recursive: true, force: true });
  });

  // Five npx starts and 40 calls: well past the default on a loaded machine. Not retried: it publishes.
  it('npx serval publishes two versions and weights an alias between them', {
    timeout: 180_000,
    retry: 0,
  }, async () => {
    // `npx serval` is the documented form: npm finds the command through package.json "bin".
    const npx = (...args: string[]) =>
      execFileSync('npx', ['serval', ...args, '--endpoint', dev.url], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      }).trim();
    expect(npx('publish', 'greeter')).toBe(
      'greeter: version 1 (arn:serval:lambda:local:default:function:greeter:1)',
    );
    execFileSync('sed', ['-i', 's/GREETING: Hello/GREETING: Bonjour/', join(copy, 'greeter.yaml')]);
    await expect.poll(() => dev.stdout(), { timeout: 30_000 }).toContain('reloaded greeter');
    expect(npx('publish', 'greeter')).toMatch(/^greeter: version 2 \(/);
    expect(npx('alias', 'greeter', 'live', '--version', '1', '--weight', '2=0.1')).toBe(
      'greeter:live -> version 1, 10% to 2',
    );
    const bodies = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${dev.url}/2015-03-31/functions/greeter:live/invocations`, {
        method: 'POST',
        body: '{"queryStringParameters":{"name":"Ada"}}',
      });
      expect(res.status).toBe(200);
      bodies.add(((await res.json()) as { body: string }).body);
    }
    expect(bodies.has('Hello, Ada!\n')).toBe(true);
    expect([...bodies].every((b) => b === 'Hello, Ada!\n' || b === 'Bonjour, Ada!\n')).toBe(true);
    expect(() => npx('alias', 'greeter', 'bad', '--version', '9')).toThrow(/ResourceNotFoundException/);
  });
});
