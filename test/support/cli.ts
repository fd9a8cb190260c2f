// Runs the real `serval` command as a child process and waits for it to listen.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, testDataRoot } from './serval.ts';

export interface RunningCli {
  url: string;
  stdout(): string;
  stderr(): string;
  /** Undefined while the process runs; its exit code or signal once it ended. */
  exited(): string | undefined;
  /** Ends the process (SIGTERM unless told otherwise) and waits for it. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface CliOptions {
  /** A data directory the caller owns and keeps; by default a fresh one, removed at stop. */
  dataDir?: string;
  /** Added to the test's own environment. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the test's own environment for the child (e.g. a PATH with chosen interpreters only). */
  replaceEnv?: NodeJS.ProcessEnv;
}

export async function startCli(args: string[], options: CliOptions = {}): Promise<RunningCli> {
  const dataDir = options.dataDir ?? mkdtempSync(join(testDataRoot(), 'serval-cli-'));
  const child: ChildProcess = spawn(
    process.execPath,
    ['bin/serval.mjs', ...args, '--port', '0', '--data-dir', dataDir],
    {
      cwd: REPO_ROOT,
      env: { ...(options.replaceEnv ?? process.env), ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  let exit: string | undefined;
  child.stderr!.on('data', (d: Buffer) => {
    err += d;
  });
  const ended = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = signal ?? String(code);
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: a cold start of the CLI on a loaded 2-core machine can take many seconds.
    const timer = setTimeout(() => reject(new Error(`serval did not start: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    void ended.then(() => reject(new Error(`serval exited with ${exit}: ${err}`)));
  });
  return {
    url,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    async stop(signal = 'SIGTERM') {
      if (exit === undefined) {
        child.kill(signal);
        await ended;
      }
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
