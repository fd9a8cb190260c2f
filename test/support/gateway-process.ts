// The real `serval dev` gateway as a child process, so a test can tell whether a request ended it: an
// uncaught exception in an in-process gateway would be caught by the test runner instead.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './free-port.ts';
import { type FunctionManifestInput, functionManifest, REPO_ROOT, testDataRoot } from './serval.ts';

export interface GatewayProcess {
  url: string;
  /** The listener agents dial (health check, environment links, the controller's demand list). */
  internalUrl: string;
  metricsUrl: string;
  /** Undefined while the process runs; its exit code or signal once it ended. */
  exited(): string | undefined;
  stderr(): string;
  stop(): Promise<void>;
}

export async function startGatewayProcess(options: {
  functions?: FunctionManifestInput[];
  env?: NodeJS.ProcessEnv;
}): Promise<GatewayProcess> {
  const work = mkdtempSync(join(testDataRoot(), 'gateway-process-'));
  const manifests = join(work, 'manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(
    join(manifests, 'functions.yaml'),
    (options.functions ?? []).map((f) => stringify(functionManifest(f))).join('---\n'),
  );
  const [internalPort, metricsPort] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    ['bin/serval.mjs', 'dev', manifests, '--port', '0', '--data-dir', join(work, 'data')],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SERVAL_INTERNAL_PORT: String(internalPort),
        SERVAL_METRICS_PORT: String(metricsPort),
        SERVAL_LOG_FORMAT: 'text',
        ...options.env,
      },
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
  // The child's stdout carries function logs; keep reading so it never blocks on a full pipe.
  child.stdout!.resume();
  return {
    url,
    internalUrl: `http://127.0.0.1:${internalPort}`,
    metricsUrl: `http://127.0.0.1:${metricsPort}`,
    exited: () => exit,
    stderr: () => err,
    async stop() {
      if (exit === undefined) {
        child.kill('SIGTERM');
        await ended;
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}
