// #11.8 and #11.9: a process a handler started with `setsid` outlived its environment and even the
// gateway, and a SIGKILLed gateway left its environment directories (with their /tmp files) behind for
// good. An environment's end now ends every process it started (its PID namespace, or its memory cgroup),
// and a gateway's start removes what dead gateways left on its data directory.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startCli } from '../support/cli.ts';
import { functionManifest, startServal, testDataRoot } from '../support/serval.ts';
import { eventually, invoke, processesRunning, requireSandbox } from './isolation-support.ts';

/** Starts `sleep <seconds>` in a session of its own, as a handler escaping its process group would. */
const ESCAPER = `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
export const handler = async (event) => {
  spawn('setsid', ['sleep', String(event.seconds)], { detached: true, stdio: 'ignore' }).unref();
  writeFileSync('/tmp/left-behind.txt', 'tmp contents');
  return 'started';
};`;
const escaper = {
  name: 'escaper',
  runtime: 'nodejs22.x',
  handler: 'index.handler',
  inline: { 'index.mjs': ESCAPER },
};

/** A sleep duration no other process on the machine uses, so its command line names it. */
const marker = () => String(900_000 + Math.floor(Math.random() * 90_000));
const gone = (seconds: string) => () =>
  processesRunning(['sleep', seconds]).length === 0 ? true : undefined;

describe('isolation: no process survives its environment', () => {
  it('a setsid child ends when the gateway stops its environments', async (ctx) => {
    const serval = await startServal({ functions: [escaper] });
    const seconds = marker();
    try {
      requireSandbox(serval.isolatesTmp, ctx);
      expect((await serval.invoke('escaper', { seconds })).json()).toBe('started');
      await eventually(
        () => (processesRunning(['sleep', seconds]).length > 0 ? true : undefined),
        'the sleep',
      );
    } finally {
      await serval.stop();
    }
    await eventually(gone(seconds), 'the escaped process to end', 30_000);
  });

  it('a setsid child ends when its environment is reaped for idleness', async (ctx) => {
    const serval = await startServal({ functions: [escaper], config: { idleTimeoutSeconds: 1 } });
    try {
      requireSandbox(serval.isolatesTmp, ctx);
      const seconds = marker();
      await serval.invoke('escaper', { seconds });
      await eventually(
        () => (processesRunning(['sleep', seconds]).length > 0 ? true : undefined),
        'the sleep',
      );
      await eventually(gone(seconds), 'the escaped process to end with its idle environment', 30_000);
    } finally {
      await serval.stop();
    }
  });
});

describe('isolation: a SIGKILLed gateway', () => {
  const work = mkdtempSync(join(testDataRoot(), 'isolation-kill-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('takes its environments and their processes with it, and the next start removes their directories', async (ctx) => {
    const manifests = join(work, 'manifests');
    const dataDir = join(work, 'data');
    mkdirSync(manifests);
    writeFileSync(join(manifests, 'functions.yaml'), stringify(functionManifest(escaper)));
    const first = await startCli(['dev', manifests], { dataDir });
    const seconds = marker();
    try {
      requireSandbox(!first.stderr().includes('single-tenant'), ctx);
      expect((await invoke(first.url, 'escaper', { seconds })).status).toBe(200);
      await eventually(
        () => (processesRunning(['sleep', seconds]).length > 0 ? true : undefined),
        'the sleep',
      );
    } finally {
      await first.stop('SIGKILL');
    }
    // The environment notices its link is gone and ends, with everything in it.
    await eventually(gone(seconds), 'the escaped process to end with the gateway', 30_000);
    const environments = join(dataDir, 'environments');
    const leftovers = readdirSync(environments);
    expect(leftovers.length).toBe(1); // SIGKILL gave the gateway no chance to clean up

    const second = await startCli(['dev', manifests], { dataDir });
    try {
      expect(readdirSync(environments).filter((name) => leftovers.includes(name))).toEqual([]);
      expect(existsSync(join(environments, leftovers[0]!))).toBe(false);
    } finally {
      await second.stop();
    }
  });
});
