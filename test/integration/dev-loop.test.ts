// The `serval dev` edit loop as a user lives it, against the real command: two of them side by side, and
// edits to code and manifests taking effect without a restart.
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type RunningCli, startCli } from '../support/cli.ts';
import { freePort } from '../support/free-port.ts';
import { functionManifest, testDataRoot } from '../support/serval.ts';

/** How long a reload may take to show: generous, for a loaded 2-core machine. */
const RELOAD_MS = 20_000;
const work = mkdtempSync(join(testDataRoot(), 'serval-dev-loop-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function writeManifest(dir: string, file: string, fn: Parameters<typeof functionManifest>[0]): void {
  writeFileSync(join(dir, file), stringify(functionManifest(fn)));
}

async function invoke(cli: RunningCli, name: string, event: unknown = {}) {
  const res = await fetch(`${cli.url}/2015-03-31/functions/${name}/invocations`, {
    method: 'POST',
    body: JSON.stringify(event),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('two serval dev side by side', () => {
  const manifests = join(work, 'side-by-side');
  let first: RunningCli | undefined;
  let second: RunningCli | undefined;
  beforeAll(() => {
    mkdirSync(manifests);
    writeManifest(manifests, 'hello.yaml', {
      name: 'hello',
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      inline: { 'index.mjs': 'export const handler = async () => ({ ok: true });\n' },
    });
  });
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
  });

  it('the second takes another metrics port, says which, and serves', async () => {
    // Both ask for the same metrics port, as two plain `serval dev` runs both ask for 9464.
    const metricsPort = String(await freePort());
    first = await startCli(['dev', manifests, '--metrics-port', metricsPort]);
    await expect
      .poll(() => first!.stdout())
      .toContain(`Metrics for Prometheus on http://127.0.0.1:${metricsPort}/`);
    second = await startCli(['dev', manifests, '--metrics-port', metricsPort]);
    await expect.poll(() => second!.stdout()).toMatch(/Metrics for Prometheus on (\S+)/);
    const secondMetrics = /Metrics for Prometheus on (\S+)/.exec(second.stdout())![1]!;
    expect(new URL(secondMetrics).port).not.toBe(metricsPort);
    expect(second.stderr()).toContain(`metrics port ${metricsPort} is in use`);
    expect(second.stderr()).toContain(secondMetrics);
    expect((await fetch(secondMetrics)).status).toBe(200);
    expect(await invoke(second, 'hello')).toEqual({ status: 200, body: { ok: true } });
    expect(await invoke(first, 'hello')).toEqual({ status: 200, body: { ok: true } });
  });
});

describe('edits while serval dev runs', () => {
  const manifests = join(work, 'edits');
  const code = join(work, 'edits-code');
  let dev: RunningCli;
  // An id per runtime process: pids repeat across sandboxed environments (each has its own PID namespace).
  const handler = (version: string) =>
    `const runtime = crypto.randomUUID();
export const handler = async (event) => {
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { version: ${JSON.stringify(version)}, runtime, greeting: process.env.GREETING };
};\n`;
  const app = (greeting: string) => ({
    name: 'app',
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    codePath: code,
    environment: { GREETING: greeting },
  });

  beforeAll(async () => {
    mkdirSync(manifests);
    mkdirSync(join(code, 'lib'), { recursive: true });
    writeFileSync(join(code, 'index.mjs'), handler('one'));
    writeManifest(manifests, 'app.yaml', app('hello'));
    dev = await startCli(['dev', manifests]);
  });
  afterAll(() => dev.stop());

  it('a code edit retires the warm environment: the next call runs the new code', async () => {
    const warm = await invoke(dev, 'app');
    expect(warm.body).toMatchObject({ version: 'one' });
    expect((await invoke(dev, 'app')).body.runtime).toBe(warm.body.runtime); // it was warm
    writeFileSync(join(code, 'index.mjs'), handler('two'));
    await expect.poll(() => dev.stdout(), { timeout: RELOAD_MS }).toContain('reloaded app');
    const after = await invoke(dev, 'app');
    expect(after.body).toMatchObject({ version: 'two' });
    expect(after.body.runtime).not.toBe(warm.body.runtime);
  });

  it('a change in a nested directory of the code counts too', async () => {
    const before = countOf(dev.stdout(), 'reloaded app');
    writeFileSync(join(code, 'lib', 'data.json'), '{"n":1}');
    await expect.poll(() => countOf(dev.stdout(), 'reloaded app'), { timeout: RELOAD_MS }).toBe(before + 1);
  });

  it('a busy environment finishes its invocation on the old code first', async () => {
    // A warm environment that loaded the current code, so the slow call below runs in it.
    expect((await invoke(dev, 'app')).body).toMatchObject({ version: 'two' });
    const slow = invoke(dev, 'app', { sleepMs: 1500 });
    // Wait until it runs: its START line is in the terminal.
    const starts = countOf(dev.stdout(), '[app] START');
    await expect.poll(() => countOf(dev.stdout(), '[app] START'), { timeout: RELOAD_MS }).toBe(starts + 1);
    const reloads = countOf(dev.stdout(), 'reloaded app');
    writeFileSync(join(code, 'index.mjs'), handler('three'));
    await expect.poll(() => countOf(dev.stdout(), 'reloaded app'), { timeout: RELOAD_MS }).toBe(reloads + 1);
    const next = await invoke(dev, 'app');
    expect(next.body).toMatchObject({ version: 'three' });
    const finished = await slow;
    expect(finished.status).toBe(200);
    expect(finished.body).toMatchObject({ version: 'two' });
  });

  it('a manifest edit (an environment variable) reaches the next call', async () => {
    expect((await invoke(dev, 'app')).body).toMatchObject({ greeting: 'hello' });
    const reloads = countOf(dev.stdout(), 'reloaded app');
    writeManifest(manifests, 'app.yaml', app('bonjour'));
    await expect.poll(() => countOf(dev.stdout(), 'reloaded app'), { timeout: RELOAD_MS }).toBe(reloads + 1);
    expect((await invoke(dev, 'app')).body).toMatchObject({ greeting: 'bonjour', version: 'three' });
  });

  it('a manifest file added while running is loaded, and dropped when removed', async () => {
    writeManifest(manifests, 'extra.yaml', {
      name: 'extra',
      runtime: 'python3.12',
      handler: 'index.handler',
      inline: { 'index.py': 'def handler(event, context):\n    return {"extra": True}\n' },
    });
    await expect.poll(() => dev.stdout(), { timeout: RELOAD_MS }).toContain('loaded extra');
    expect(await invoke(dev, 'extra')).toEqual({ status: 200, body: { extra: true } });
    unlinkSync(join(manifests, 'extra.yaml'));
    await expect.poll(() => dev.stdout(), { timeout: RELOAD_MS }).toContain('removed extra');
    const gone = await invoke(dev, 'extra');
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ Type: 'User' });
    // The other function is untouched by all this.
    expect((await invoke(dev, 'app')).status).toBe(200);
  });

  it('a half-written manifest keeps the function it defined', async () => {
    writeFileSync(join(manifests, 'app.yaml'), 'kind: Function\nmetadata: {name: app\n');
    await expect.poll(() => dev.stderr(), { timeout: RELOAD_MS }).toMatch(/skipped .*app\.yaml/);
    expect((await invoke(dev, 'app')).body).toMatchObject({ greeting: 'bonjour' });
  });
});

describe('a function whose code is the directory serval dev serves, data directory inside', () => {
  // `code.path: .` in a project run with the default data directory (.serval) inside it: the environments'
  // own writes under the data directory must not count as edits.
  const project = join(work, 'project');
  let dev: RunningCli;
  beforeAll(async () => {
    mkdirSync(project);
    writeFileSync(join(project, 'index.mjs'), 'export const handler = async () => ({ ok: 1 });\n');
    writeManifest(project, 'app.yaml', {
      name: 'self',
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      codePath: '.',
    });
    dev = await startCli(['dev', project], { dataDir: join(project, '.serval') });
  });
  afterAll(() => dev.stop());

  it('runs without reloading itself, and still reloads on a real edit', async () => {
    for (let i = 0; i < 3; i++) expect((await invoke(dev, 'self')).body).toEqual({ ok: 1 });
    // Give a spurious reload time to show up (several debounce periods), then edit for real.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(dev.stdout()).not.toContain('reloaded self');
    writeFileSync(join(project, 'index.mjs'), 'export const handler = async () => ({ ok: 2 });\n');
    await expect.poll(() => dev.stdout(), { timeout: RELOAD_MS }).toContain('reloaded self');
    expect((await invoke(dev, 'self')).body).toEqual({ ok: 2 });
    expect(countOf(dev.stdout(), 'reloaded self')).toBe(1);
  });
});

function countOf(text: string, needle: string): number {
  return text.split(needle).length - 1;
}
