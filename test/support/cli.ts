// Runs the real `serval` command as a child process and waits for it to listen.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, testDataRoot } from './serval.ts';

export interface RunningCli {
  url: string;
  stdout(): string;
  stderr(): string;
  /** Ends the process (SIGTERM unless told otherwise) and waits for it. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface CliOptions {
  /** A data directory the caller owns and keeps; by default a fresh one, removed at stop. */
  dataDir?: string;
  /** Added to the test's own environment. */
  env?: NodeJS.ProcessEnv;
}

export async function startCli(args: string[], options: CliOptions = {}): Promise<RunningCli> {
  const dataDir = options.dataDir ?? mkdtempSync(join(testDataRoot(), 'serval-cli-'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['bin/serval.mjs', ...args, '--port', '0', '--data-dir', dataDir],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serval did not start: ${err}`)), 30_000); // a loaded 2-core machine
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`serval exited with ${code}: ${err}`)));
  });
  return {
    url,
    stdout: () => out,
    stderr: () => err,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        const done = () => {
          if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', done);
        child.kill(signal);
      }),
  };
}
