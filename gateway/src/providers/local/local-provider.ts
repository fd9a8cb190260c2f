// Environments as local agent processes: each with its own working directory and /tmp, no cluster needed.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type {
  EnvironmentLaunch,
  EnvironmentProvider,
  FunctionLogSink,
  LaunchedEnvironment,
} from '../provider.ts';
import { resolvePython } from './interpreters.ts';

const AGENT_MAIN = fileURLToPath(new URL('../../../../runtime-shims/agent/main.ts', import.meta.url));
/** Lambda's shutdown phase: 2 s, then SIGKILL. */
const SHUTDOWN_GRACE_MS = 2000;
const HOST_PASSTHROUGH = ['PATH', 'HOME', 'SERVAL_CACHE'];
const UNSHARE = ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--'];

export interface LocalProviderOptions {
  dataDir: string;
  /** `auto`: give each environment a private /tmp via a mount namespace where the OS allows it. */
  isolateTmp: 'auto' | 'off';
}

export class LocalProvider implements EnvironmentProvider {
  private readonly dataDir: string;
  private readonly logSink: FunctionLogSink;
  private readonly privateTmp: boolean;
  private readonly running = new Set<LaunchedEnvironment>();

  constructor(options: LocalProviderOptions, logSink: FunctionLogSink) {
    this.dataDir = options.dataDir;
    this.logSink = logSink;
    this.privateTmp = options.isolateTmp === 'auto' && mountNamespacesWork();
  }

  /** Whether environments see their own directory at the literal path /tmp. */
  get isolatesTmp(): boolean {
    return this.privateTmp;
  }

  launch({ spec, linkUrl, token }: EnvironmentLaunch): LaunchedEnvironment {
    const python = spec.runtime.startsWith('python') ? resolvePython(spec.runtime, process.env) : undefined;
    // A missing interpreter fails the start with its reason, which the caller sees as ResourceNotReady.
    if (python && !python.ok) return { exited: Promise.resolve(python.message), stop: () => {} };
    const dir = join(this.dataDir, 'environments', spec.environmentId);
    const tmpDir = join(dir, 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const env: Record<string, string> = {
      SERVAL_LINK_URL: linkUrl,
      SERVAL_ENVIRONMENT_TOKEN: token,
      SERVAL_RUNTIME_API_ADDRESS: '127.0.0.1:0',
      SERVAL_TMP_DIR: tmpDir,
      SERVAL_NODE_COMPILE_CACHE: join(this.dataDir, 'node-compile-cache'),
    };
    for (const key of HOST_PASSTHROUGH) if (process.env[key]) env[key] = process.env[key];
    // The agent itself starts faster with V8's compile cache.
    env.NODE_COMPILE_CACHE = env.SERVAL_NODE_COMPILE_CACHE!;
    if (python) env.SERVAL_PYTHON = python.executable;
    const privateTmp =
      this.privateTmp &&
      !needsHostTmp([
        AGENT_MAIN,
        process.execPath,
        dir,
        spec.codeDir,
        ...(process.env.PATH ?? '').split(':'),
      ]);
    env.SERVAL_TMP_DIR = privateTmp ? '/tmp' : tmpDir;
    const [file, args] = privateTmp
      ? // A private mount namespace where the environment's directory is mounted over /tmp, as in a pod.
        [
          'unshare',
          [
            ...UNSHARE,
            'sh',
            '-c',
            'mount --bind "$0" /tmp && exec "$@"',
            tmpDir,
            process.execPath,
            AGENT_MAIN,
          ],
        ]
      : [process.execPath, [AGENT_MAIN]];
    const child = spawn(file, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    createInterface({ input: child.stdout! }).on('line', (line) => this.logSink(spec, line));
    createInterface({ input: child.stderr! }).on('line', (line) =>
      this.logSink(spec, `[serval-agent] ${line}`),
    );
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`agent could not start: ${err.message}`));
      child.once('exit', (code, signal) =>
        resolve(signal ? `agent killed by ${signal}` : `agent exited with ${code}`),
      );
    }).then((reason) => {
      rmSync(dir, { recursive: true, force: true });
      this.running.delete(launched);
      return reason;
    });
    const launched: LaunchedEnvironment = {
      exited,
      stop: () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_GRACE_MS).unref();
      },
    };
    this.running.add(launched);
    return launched;
  }

  async close(): Promise<void> {
    const all = [...this.running];
    for (const env of all) env.stop();
    await Promise.all(all.map((env) => env.exited));
  }
}

/** Unprivileged user + mount namespaces are a Linux feature that some hosts and containers disable. */
function mountNamespacesWork(): boolean {
  if (process.platform !== 'linux') return false;
  const probe = spawnSync('unshare', [...UNSHARE, 'sh', '-c', 'mount -t tmpfs none /tmp'], {
    stdio: 'ignore',
    timeout: 5000,
  });
  return probe.status === 0;
}

/** Mounting over /tmp would hide these paths from the environment; such an environment keeps the host's /tmp. */
function needsHostTmp(paths: string[]): boolean {
  return paths.some((p) => p === '/tmp' || p.startsWith('/tmp/'));
}
