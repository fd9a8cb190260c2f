// Environments as local agent processes: each with its own working directory and /tmp, no cluster needed.
import { spawn } from 'node:child_process';
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

const AGENT_MAIN = fileURLToPath(new URL('../../../../runtime-shims/agent/main.ts', import.meta.url));
/** Lambda's shutdown phase: 2 s, then SIGKILL. */
const SHUTDOWN_GRACE_MS = 2000;
const HOST_PASSTHROUGH = ['PATH', 'HOME', 'SERVAL_CACHE'];

export class LocalProvider implements EnvironmentProvider {
  private readonly dataDir: string;
  private readonly logSink: FunctionLogSink;
  private readonly running = new Set<LaunchedEnvironment>();

  constructor(dataDir: string, logSink: FunctionLogSink) {
    this.dataDir = dataDir;
    this.logSink = logSink;
  }

  launch({ spec, linkUrl, token }: EnvironmentLaunch): LaunchedEnvironment {
    const dir = join(this.dataDir, 'environments', spec.environmentId);
    const tmpDir = join(dir, 'tmp');
    mkdirSync(tmpDir, { recursive: true });
    const env: Record<string, string> = {
      SERVAL_LINK_URL: linkUrl,
      SERVAL_ENVIRONMENT_TOKEN: token,
      SERVAL_RUNTIME_API_ADDRESS: '127.0.0.1:0',
      SERVAL_TMP_DIR: tmpDir,
    };
    for (const key of HOST_PASSTHROUGH) if (process.env[key]) env[key] = process.env[key];
    const child = spawn(process.execPath, [AGENT_MAIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
