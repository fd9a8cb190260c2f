// Environments as local agent processes: each with its own /tmp, and where Linux allows it its own
// namespaces (sandbox.ts) and memory cgroup (memory-cgroup.ts). The link to the gateway is a socket pair
// passed in as fd 3, so no environment needs, or can reach, a listener on the host.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type {
  EnvironmentLaunch,
  EnvironmentProvider,
  FunctionLogSink,
  LaunchedEnvironment,
} from '../provider.ts';
import { EnvironmentDirs } from './environment-dirs.ts';
import { instanceTag } from './instance-tag.ts';
import { resolvePython } from './interpreters.ts';
import { type EnvironmentCgroup, MemoryCgroups } from './memory-cgroup.ts';
import {
  interpreterPaths,
  SANDBOX_COMPILE_CACHE,
  SANDBOX_RUNTIME_API,
  sandboxCommand,
  sandboxUnavailable,
  sharedReadOnlyPaths,
} from './sandbox.ts';

const AGENT_MAIN = fileURLToPath(new URL('../../../../runtime-shims/agent/main.ts', import.meta.url));
/** The agent with the Node runtime inside it (ADR-52). */
const NODE_IN_PROCESS_MAIN = fileURLToPath(
  new URL('../../../../runtime-shims/node/in-process/main.ts', import.meta.url),
);
/** Lambda's shutdown phase: 2 s, then SIGKILL. */
const SHUTDOWN_GRACE_MS = 2000;
const HOST_PASSTHROUGH = ['PATH', 'HOME', 'SERVAL_CACHE'];
/** The agent's fds: 3 the link, 4–6 its runtime's memory cgroup (cgroup.procs, peak, OOM events). */
const LINK_FD = 3;

export interface LocalProviderOptions {
  dataDir: string;
  /** `auto`: namespaces and a memory cgroup per environment where the host allows them; `off`: neither. */
  localIsolation: 'auto' | 'off';
  /** Host directories every sandboxed environment sees, writable (like a shared file system mount). */
  localSharedDirs: string[];
  /** nodejs* zip functions run in one process, agent and runtime (SERVAL_NODE_IN_PROCESS). */
  nodeInProcess?: boolean;
}

export class LocalProvider implements EnvironmentProvider {
  private readonly dataDir: string;
  private readonly logSink: FunctionLogSink;
  private readonly dirs: EnvironmentDirs;
  private readonly sandboxed: boolean;
  private readonly cgroups: MemoryCgroups | undefined;
  private readonly sharedPaths: string[];
  private readonly sharedDirs: string[];
  private readonly running = new Set<LaunchedEnvironment>();
  private readonly nodeInProcess: boolean;
  /** What start-up found about isolation, for the terminal: where it falls short, in plain words. */
  readonly isolationNotes: string[] = [];

  constructor(options: LocalProviderOptions, logSink: FunctionLogSink) {
    this.dataDir = options.dataDir;
    this.logSink = logSink;
    const tag = instanceTag();
    this.dirs = new EnvironmentDirs(options.dataDir, tag);
    const auto = options.localIsolation === 'auto';
    const noSandbox = auto ? sandboxUnavailable() : 'SERVAL_LOCAL_ISOLATION=off';
    this.sandboxed = noSandbox === undefined;
    this.sharedPaths = this.sandboxed ? sharedReadOnlyPaths() : [];
    this.sharedDirs = options.localSharedDirs;
    this.nodeInProcess = options.nodeInProcess ?? false;
    if (noSandbox) {
      this.isolationNotes.push(
        `local mode is single-tenant: environments share this user's file system, processes and loopback (${noSandbox})`,
      );
    }
    const cgroups = auto ? MemoryCgroups.open(tag) : 'SERVAL_LOCAL_ISOLATION=off';
    this.cgroups = typeof cgroups === 'string' ? undefined : cgroups;
    if (typeof cgroups === 'string') {
      this.isolationNotes.push(
        `memory limits are enforced by sampling, not by a cgroup (${cgroups}); a fast allocation can overshoot`,
      );
    }
  }

  /** Whether environments are sandboxed (docs/security.md), and so see their own /tmp at the literal path. */
  get isolatesTmp(): boolean {
    return this.sandboxed;
  }

  launch({ spec, linkUrl, token, acceptLink }: EnvironmentLaunch): LaunchedEnvironment {
    const python = spec.runtime.startsWith('python') ? resolvePython(spec.runtime, process.env) : undefined;
    // A missing interpreter fails the start with its reason, which the caller sees as ResourceNotReady.
    if (python && !python.ok) return { exited: Promise.resolve(python.message), stop: () => {} };
    const envDir = this.dirs.create(spec.environmentId);
    // Sandboxed environments of one function share a compile cache; other functions' compiled code stays unseen.
    const compileCache = this.sandboxed
      ? join(this.dataDir, 'node-compile-cache', spec.namespace, spec.functionName)
      : join(this.dataDir, 'node-compile-cache');
    const seenCompileCache = this.sandboxed ? SANDBOX_COMPILE_CACHE : compileCache;
    const env: Record<string, string> = {
      SERVAL_LINK_URL: linkUrl,
      SERVAL_LINK_FD: String(LINK_FD),
      SERVAL_ENVIRONMENT_TOKEN: token,
      SERVAL_RUNTIME_API_ADDRESS: this.sandboxed ? SANDBOX_RUNTIME_API : '127.0.0.1:0',
      SERVAL_TMP_DIR: this.sandboxed ? '/tmp' : envDir.tmpDir,
      SERVAL_NODE_COMPILE_CACHE: seenCompileCache,
      // Layers: /opt inside a sandbox; without one, the merged directory itself stands in for /opt.
      SERVAL_OPT_DIR: this.sandboxed ? '/opt' : (spec.layersDir ?? '/opt'),
      // The agent itself starts faster with V8's compile cache.
      NODE_COMPILE_CACHE: seenCompileCache,
    };
    for (const key of HOST_PASSTHROUGH) if (process.env[key]) env[key] = process.env[key];
    if (python) env.SERVAL_PYTHON = python.executable;

    let cgroup: EnvironmentCgroup | undefined;
    try {
      cgroup = this.cgroups?.create(spec.environmentId, spec.memoryMB);
    } catch (err) {
      this.logSink(spec, `[serval-agent] no memory cgroup for this environment: ${(err as Error).message}`);
    }
    const cgroupFds = cgroup ? [cgroup.fds.procs, cgroup.fds.peak, cgroup.fds.events] : [];
    if (cgroup) env.SERVAL_MEMORY_CGROUP_FDS = [4, 5, 6].join(',');

    const agent = this.environmentCommand(spec);
    const { file, args } = this.sandboxed
      ? sandboxCommand(
          {
            rootDir: envDir.viewDir,
            tmpDir: envDir.tmpDir,
            codeDir: spec.codeDir,
            compileCacheDir: compileCache,
            optDir: spec.layersDir,
            readOnly: [...this.sharedPaths, ...(python ? interpreterPaths(python.executable) : [])],
            shared: this.sharedDirs,
          },
          agent,
        )
      : { file: agent[0]!, args: agent.slice(1) };
    const child = spawn(file, args, {
      cwd: envDir.dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', ...cgroupFds],
    });
    const link = child.stdio[LINK_FD] as Duplex | null; // none if the spawn itself failed
    if (link) acceptLink(link);
    createInterface({ input: child.stdout! }).on('line', (line) => this.logSink(spec, line));
    createInterface({ input: child.stderr! }).on('line', (line) =>
      this.logSink(spec, `[serval-agent] ${line}`),
    );
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => resolve(`agent could not start: ${err.message}`));
      child.once('exit', (code, signal) =>
        resolve(signal ? `agent killed by ${signal}` : `agent exited with ${code}`),
      );
    }).then(async (reason) => {
      // Whatever the runtime started (even with setsid) ends with its environment.
      await cgroup?.remove();
      this.dirs.remove(envDir);
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

  /** The agent, or for a nodejs* function in in-process mode the agent with its runtime inside. */
  private environmentCommand(spec: EnvironmentLaunch['spec']): string[] {
    if (!this.nodeInProcess || !spec.runtime.startsWith('nodejs')) return [process.execPath, AGENT_MAIN];
    // Lambda's Node bootstrap caps the old generation at 90 % of the function's memory (runtime-command.ts).
    const heap = Math.floor((spec.memoryMB * 90) / 100);
    return [process.execPath, `--max-old-space-size=${heap}`, NODE_IN_PROCESS_MAIN];
  }

  async close(): Promise<void> {
    const all = [...this.running];
    for (const env of all) env.stop();
    await Promise.all(all.map((env) => env.exited));
    this.cgroups?.close();
    this.dirs.close();
  }
}
