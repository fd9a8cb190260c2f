// `serval logs <function> --follow` against a real `serval dev`, and following a log file across rotation.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { logs } from '../../cli/logs.ts';
import { FunctionLogFiles } from '../../gateway/src/observability/function-log-files.ts';
import { type RunningCli, startCli } from '../support/cli.ts';
import { fixture, functionManifest, REPO_ROOT, testDataRoot } from '../support/serval.ts';

const run = promisify(execFile);
const work = mkdtempSync(join(testDataRoot(), 'serval-logs-'));
let dev: RunningCli;
let dataDir: string;

beforeAll(async () => {
  const manifests = join(work, 'manifests');
  mkdirSync(manifests);
  writeFileSync(
    join(manifests, 'fn.yaml'),
    stringify(
      functionManifest({
        name: 'chatty',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'logs'),
      }),
    ),
  );
  dev = await startCli(['dev', manifests]);
  dataDir = /\(data in (.+)\)/.exec(dev.stdout())![1]!;
});
afterAll(async () => {
  await dev.stop();
  rmSync(work, { recursive: true, force: true });
});

async function invoke(): Promise<string> {
  const res = await fetch(`${dev.url}/2015-03-31/functions/chatty/invocations`, {
    method: 'POST',
    body: '{}',
  });
  expect(res.status).toBe(200);
  return res.headers.get('x-amzn-requestid')!;
}

describe('serval logs', () => {
  let follower: ChildProcess | undefined;
  afterAll(() => follower?.kill());

  it('--follow prints what the function writes as it happens, across invocations', async () => {
    follower = spawn(
      process.execPath,
      ['bin/serval.mjs', 'logs', 'chatty', '--follow', '--data-dir', dataDir],
      {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    follower.stdout!.on('data', (d: Buffer) => {
      out += d;
    });
    const first = await invoke();
    await expect.poll(() => out, { timeout: 15_000 }).toMatch(new RegExp(`REPORT RequestId: ${first}\\t`));
    const second = await invoke();
    await expect.poll(() => out, { timeout: 15_000 }).toMatch(new RegExp(`REPORT RequestId: ${second}\\t`));
    expect(out).toContain(`START RequestId: ${first} Version: $LATEST`);
    expect(out).toMatch(new RegExp(`\\t${second}\\tINFO\\tlog line\\n`));
    expect(out.indexOf(first)).toBeLessThan(out.indexOf(second));
  });

  it('--tail N prints the last N lines and exits', async () => {
    const id = await invoke();
    await expect
      .poll(
        async () =>
          (
            await run(
              process.execPath,
              ['bin/serval.mjs', 'logs', 'chatty', '--tail', '1', '--data-dir', dataDir],
              { cwd: REPO_ROOT },
            )
          ).stdout,
        // Each poll starts a CLI process; on a loaded machine one alone can take most of a second.
        { timeout: 15_000, interval: 200 },
      )
      .toMatch(new RegExp(`^REPORT RequestId: ${id}\\t[^\\n]*\\n$`));
  });

  it('says so when a function has no logs', async () => {
    const failed = await run(
      process.execPath,
      ['bin/serval.mjs', 'logs', 'never-ran', '--data-dir', dataDir],
      {
        cwd: REPO_ROOT,
      },
    ).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no logs for default/never-ran'),
    });
  });
});

describe('following a rotated log file', () => {
  it('finishes the rotated file and continues in the new one, losing nothing', async () => {
    const dir = mkdtempSync(join(testDataRoot(), 'serval-rotate-'));
    const files = new FunctionLogFiles(dir, 64);
    const lines = Array.from(
      { length: 12 },
      (_, i) => `line ${String(i).padStart(2, '0')} ${'x'.repeat(10)}`,
    );
    files.append('default', 'fn', lines[0]!);
    await new Promise((r) => setTimeout(r, 50));
    let out = '';
    const stop = new AbortController();
    const following = logs('fn', {
      dataDir: dir,
      namespace: 'default',
      follow: true,
      out: (c) => {
        out += c;
      },
      signal: stop.signal,
      pollMs: 20,
    });
    // Slowly enough that the follower sees every generation before the next rotation.
    for (const line of lines.slice(1)) {
      files.append('default', 'fn', line);
      await new Promise((r) => setTimeout(r, 60));
    }
    await expect.poll(() => out.split('\n').filter(Boolean)).toEqual(lines);
    stop.abort();
    await following;
    await files.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
