// Environments as local agent processes: each with its own /tmp, and where Linux allows it its own
// namespaces (sandbox.ts) and memory cgroup (memory-cgroup.ts). The link to the gateway is a socket pair
// passed in as fd 3, so no environment needs, or can reach, a listener on the host.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import type { EnvironmentSpec } from '../../../../apis/environment-link.ts';
import type { GenericEnvironment, GenericLaunch } from '../../dispatch/prewarm-pool.ts';
import type {
  EnvironmentLaunch,
  EnvironmentProvider,
  FunctionLogSink,
  LaunchedEnvironment,
} from '../provider.ts';
import { linkTree, TooManyFiles } from './code-links.ts';
import { servalCompileCache } from './compile-cache.ts';
import { type EnvironmentDir, EnvironmentDirs } from './environment-dirs.ts';
import { closeLedger, DeadlineWatch, inProcessArgv, linkInProcess, openLedger } from './in-process-launch.ts';
import { instanceTag } from './instance-tag.ts';
import { resolvePython } from './interpreters.ts';
import { KeptTmpDirs, keptTmpKey, RESET_LINE } from './kept-tmp.ts';
import { onLines } from './line-reader.ts';
import { type LoadableShims, loadableShims } from './loadable-shims.ts';
import { type EnvironmentCgroup, MemoryCgroups } from './memory-cgroup.ts';
import {
  hasAncestorNodeModules,
  interpreterPaths,
  SANDBOX_COMPILE_CACHE,
  SANDBOX_RUNTIME_API,
  sandboxCommand,
  sandboxUnavailable,
  sharedReadOnlyPaths,
  startCompileCacheBuild,
} from './sandbox.ts';

/** How an in-process environment that reset itself exits (RESET_EXIT_CODE in runtime-shims/node/in-process/call-ledger.ts). */
const IN_PROCESS_RESET = 'agent exited with 75';
/** Lambda's shutdown phase: 2 s, then SIGKILL. */
const SHUTDOWN_GRACE_MS = 2000;
const HOST_PASSTHROUGH = ['PATH', 'HOME', 'SERVAL_CACHE'];
/** The agent's fds: 3 the link, 4–6 its runtime's memory cgroup (cgroup.procs, peak, OOM events). */
const LINK_FD = 3;
/** Where a pre-warmed environment's sandbox shows its function's code (ADR-50), as Lambda does. */
const TASK_ROOT = '/var/task';
/**
 * Files a specialisation links at most (code and layers): some 30-45 µs of CPU each on a loaded 2-core
 * machine, so 2,000 is about what a cold start costs anyway. Bigger code gets cold starts (ADR-50).
 */
const MAX_LINKED_FILES = 2000;

/** What spawnAgent needs: one environment's directories, link and view. */
interface AgentStart {
  environmentId: string;
  /** The function's runtime; none for a generic environment. */
  runtime?: string | undefined;
  memoryMB: number;
  envDir: EnvironmentDir;
  /** Host directory of the Node compile cache the environment uses, if any. */
  compileCache: string | undefined;
  linkUrl: string;
  token: string;
  python: string | undefined;
  /** The code's host directory, and where a sandbox shows it if not at its own path; none for a generic one unsandboxed. */
  code: { dir: string; at?: string | undefined } | undefined;
  /** Host directory of the layers (/opt). */
  optDir: string | undefined;
  /** Whose log the agent's output goes to: a generic environment's is nobody's until it is specialised. */
  logTo: () => EnvironmentSpec | undefined;
  /** A generic environment's profile, for its agent (SERVAL_PREWARM_*). */
  prewarm?: Record<string, string> | undefined;
  /** Keeps the environment's /tmp under this key when it resets itself (an in-process one, ADR-54). */
  keepTmpAs?: string | undefined;
  /** Where a link made after the spawn goes (an in-process environment's, ADR-54). */
  onLink?: ((link: Duplex) => void) | undefined;
  /** What the deadline watch needs of an in-process environment's function (ADR-57). */
  deadlines?: { timeoutSeconds: number; slots: number } | undefined;
  /**
   * The function's NODE_OPTIONS: Node reads it only as it starts, so an in-process environment, whose
   * process is the runtime's, gets it at its spawn (agent mode's runtime gets it with its variables).
   */
  nodeOptions?: string | undefined;
}

export interface LocalProviderOptions {
  dataDir: string;
  /** `auto`: namespaces and a memory cgroup per environment where the host allows them; `off`: neither. */
  localIsolation: 'auto' | 'off';
  /** Host directories every sandboxed environment sees, writable (like a shared file system mount). */
  localSharedDirs: string[];
  /** nodejs* zip functions run in one process, agent and runtime (SERVAL_NODE_IN_PROCESS, default on). */
  nodeInProcess?: boolean;
  /** Where the shims are built as JavaScript (SERVAL_CACHE); none: environments load the TypeScript sources. */
  cacheDir?: string | undefined;
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
  /** Code directories found too big to link into a generic environment: they get cold starts. */
  private readonly tooBig = new Set<string>();
  private readonly nodeInProcess: boolean;
  /** Where environments load Serval's shims from: built JavaScript (ADR-56), or the sources if that failed. */
  private readonly shims: LoadableShims;
  private readonly keptTmp: KeptTmpDirs;
  /** Ends in-process handlers that overran their deadline where their own loop could not (ADR-57). */
  private readonly deadlines = new DeadlineWatch();
  private closing = false;
  /** What start-up found about isolation, for the terminal: where it falls short, in plain words. */
  readonly isolationNotes: string[] = [];

  constructor(options: LocalProviderOptions, logSink: FunctionLogSink) {
    this.dataDir = options.dataDir;
    this.logSink = logSink;
    const tag = instanceTag();
    this.dirs = new EnvironmentDirs(options.dataDir, tag);
    this.keptTmp = new KeptTmpDirs(join(options.dataDir, 'environments', tag));
    const auto = options.localIsolation === 'auto';
    const noSandbox = auto ? sandboxUnavailable() : 'SERVAL_LOCAL_ISOLATION=off';
    this.sandboxed = noSandbox === undefined;
    this.shims = loadableShims(options.cacheDir, this.isolationNotes);
    this.sharedPaths = this.sandboxed
      ? [...sharedReadOnlyPaths(), ...(this.shims.root ? [this.shims.root] : [])]
      : [];
    this.sharedDirs = options.localSharedDirs;
    if (this.sandboxed && options.cacheDir) {
      startCompileCacheBuild(options.cacheDir, this.shims.tree, this.sharedPaths);
    }
    this.nodeInProcess = options.nodeInProcess ?? true;
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
    // A reset in-process environment's replacement gets its /tmp, as a restarted runtime in Lambda would.
    const keepTmpAs = this.inProcess(spec.runtime) ? keptTmpKey(spec) : undefined;
    const { launched, link } = this.spawnAgent({
      environmentId: spec.environmentId,
      runtime: spec.runtime,
      memoryMB: spec.memoryMB,
      envDir,
      compileCache: this.compileCache(),
      linkUrl,
      token,
      python: python?.executable,
      code: { dir: spec.codeDir },
      // Layers: /opt inside a sandbox; without one, the merged directory itself stands in for /opt.
      optDir: spec.layersDir,
      logTo: () => spec,
      onLink: acceptLink,
      keepTmpAs,
      deadlines: { timeoutSeconds: spec.timeoutSeconds, slots: spec.maxConcurrency ?? 1 },
      nodeOptions: spec.environment.NODE_OPTIONS,
    });
    if (link) acceptLink(link);
    return launched;
  }

  /**
   * The host directory of the V8 compile cache an environment gets. Sandboxed: Serval's own, read-only, which
   * holds no function's code, so nothing compiled for one function reaches the next (ADR-55).
   */
  private compileCache(): string | undefined {
    return this.sandboxed ? servalCompileCache() : join(this.dataDir, 'node-compile-cache');
  }

  /**
   * Whether `spec` can run in a generic environment (ADR-50): not an image, and code that needs nothing a
   * view at /var/task cannot show (its parents' node_modules) nor, without a sandbox, layers (their place
   * is fixed when the agent starts). Everything else falls back to a cold start as before.
   */
  prewarmable(spec: Omit<EnvironmentSpec, 'environmentId'>): boolean {
    if (!/^(nodejs|python|provided)/.test(spec.runtime)) return false;
    // A generic environment has a /tmp of its own: a reset one's waiting for its replacement would be lost.
    if (this.inProcess(spec.runtime) && this.keptTmp.has(keptTmpKey({ ...spec, environmentId: '' })))
      return false;
    if (spec.runtime.startsWith('python') && resolvePython(spec.runtime, process.env).ok !== true)
      return false;
    if (!this.sandboxed) return spec.layersDir === undefined;
    if (this.tooBig.has(spec.codeDir)) return false;
    return spec.runtime.startsWith('python') || !hasAncestorNodeModules(spec.codeDir);
  }

  /**
   * A generic environment of one profile (ADR-50): sandbox, memory cgroup and agent started, and the agent's
   * pre-started runtime for Serval's own runtimes, but no function. Its view shows two directories of its
   * own, empty until specialise() fills them: the code at /var/task and the layers at /opt. Its link is held
   * here, unread, until then: the agent's handshake waits, and no credential admits it before.
   */
  launchGeneric({
    runtime,
    memoryMB,
    environmentId,
    linkUrl,
    token,
    acceptLink,
  }: GenericLaunch): GenericEnvironment {
    const python = runtime.startsWith('python') ? resolvePython(runtime, process.env) : undefined;
    if (python && !python.ok) throw new Error(python.message);
    const envDir = this.dirs.create(environmentId);
    const taskDir = join(envDir.dir, 'task');
    const optDir = join(envDir.dir, 'opt');
    mkdirSync(taskDir);
    mkdirSync(optDir);
    let owner: EnvironmentSpec | undefined;
    const { launched, link } = this.spawnAgent({
      environmentId,
      memoryMB,
      envDir,
      compileCache: this.compileCache(),
      linkUrl,
      token,
      python: python?.executable,
      code: this.sandboxed ? { dir: taskDir, at: TASK_ROOT } : undefined,
      optDir: this.sandboxed ? optDir : undefined,
      logTo: () => owner,
      prewarm: { SERVAL_PREWARM_RUNTIME: runtime, SERVAL_PREWARM_MEMORY_MB: String(memoryMB) },
    });
    return {
      launched,
      specialise: (spec, register) => {
        if (owner) throw new Error('a pre-warmed environment serves one function only');
        if (!link) throw new Error('the environment did not start');
        owner = spec;
        if (!this.sandboxed) {
          register(spec);
        } else {
          try {
            const linked = linkTree(spec.codeDir, taskDir, MAX_LINKED_FILES);
            if (spec.layersDir) linkTree(spec.layersDir, optDir, MAX_LINKED_FILES - linked);
          } catch (err) {
            // Half of this function's code is in there now: the environment can serve nobody else.
            if (err instanceof TooManyFiles) this.tooBig.add(spec.codeDir);
            launched.stop();
            throw err;
          }
          register({ ...spec, codeDir: TASK_ROOT });
        }
        acceptLink(link);
      },
    };
  }

  /** Spawns an agent, in a sandbox where there is one, with its link socket (undefined if the spawn failed). */
  private spawnAgent(start: AgentStart): { launched: LaunchedEnvironment; link: Duplex | undefined } {
    const { envDir, compileCache } = start;
    const seenCompileCache = this.sandboxed && compileCache ? SANDBOX_COMPILE_CACHE : compileCache;
    const env: Record<string, string> = {
      SERVAL_LINK_URL: start.linkUrl,
      SERVAL_LINK_FD: String(LINK_FD),
      SERVAL_ENVIRONMENT_TOKEN: start.token,
      SERVAL_RUNTIME_API_ADDRESS: this.sandboxed ? SANDBOX_RUNTIME_API : '127.0.0.1:0',
      SERVAL_TMP_DIR: this.sandboxed ? '/tmp' : envDir.tmpDir,
      ...(seenCompileCache && {
        SERVAL_NODE_COMPILE_CACHE: seenCompileCache,
        // The agent itself starts faster with V8's compile cache.
        NODE_COMPILE_CACHE: seenCompileCache,
      }),
      SERVAL_OPT_DIR: this.sandboxed ? '/opt' : (start.optDir ?? '/opt'),
      ...(start.prewarm && {
        ...start.prewarm,
        ...(start.code?.at && { SERVAL_PREWARM_TASK_ROOT: start.code.at }),
      }),
    };
    for (const key of HOST_PASSTHROUGH) if (process.env[key]) env[key] = process.env[key];
    if (start.python) env.SERVAL_PYTHON = start.python;
    const log = (line: string) => {
      const owner = start.logTo();
      if (owner) this.logSink(owner, line);
      else process.stderr.write(`[serval-agent ${start.environmentId}, pre-warmed] ${line}\n`);
    };

    let cgroup: EnvironmentCgroup | undefined;
    try {
      cgroup = this.cgroups?.create(start.environmentId, start.memoryMB);
    } catch (err) {
      log(`[serval-agent] no memory cgroup for this environment: ${(err as Error).message}`);
    }
    const cgroupFds = cgroup ? [cgroup.fds.procs, cgroup.fds.peak, cgroup.fds.events] : [];
    if (cgroup) env.SERVAL_MEMORY_CGROUP_FDS = [4, 5, 6].join(',');

    const command = this.environmentCommand(start);
    if (command.inProcess && start.nodeOptions) env.NODE_OPTIONS = start.nodeOptions;
    let ledger: { fd: number; path: string } | undefined;
    try {
      ledger = command.inProcess ? openLedger(envDir.dir) : undefined;
    } catch (err) {
      log(`[serval-agent] no call ledger, so no post-mortem nor deadline watch: ${(err as Error).message}`);
    }
    if (ledger) env.SERVAL_IN_PROCESS_STATE = ledger.path;
    const { file, args } = this.sandboxed
      ? sandboxCommand(
          {
            tmpDir: envDir.tmpDir,
            codeDir: start.code?.dir ?? envDir.viewDir,
            codeAt: start.code?.at,
            compileCacheDir: compileCache,
            optDir: start.optDir,
            readOnly: [...this.sharedPaths, ...(start.python ? interpreterPaths(start.python) : [])],
            shared: this.sharedDirs,
          },
          command.argv,
        )
      : { file: command.argv[0]!, args: command.argv.slice(1) };
    let child: ChildProcess | undefined;
    let stopped = false;
    const resetSaid = { value: false };
    const { promise: spawned, resolve: settleSpawn } = Promise.withResolvers<ChildProcess | undefined>();
    let unwatch: (() => void) | undefined;
    const begin = (linkEnd: 'pipe' | Duplex) => {
      // Unsandboxed, an in-process environment is a group (supervisor and Node): it is ended as one.
      const group = command.inProcess && !this.sandboxed;
      // fd 7 the ledger (in-process-launch.ts), then the IPC channel.
      const ipc = command.inProcess ? [ledger?.fd ?? 'ignore', 'ipc'] : [];
      child = spawn(file, args, {
        cwd: envDir.dir,
        env,
        stdio: [
          'ignore',
          'pipe',
          'pipe',
          linkEnd,
          ...(cgroup ? cgroupFds : ['ignore', 'ignore', 'ignore']),
          ...ipc,
        ] as never,
        detached: group,
      });
      const { keepTmpAs } = start;
      onLines(
        child.stdout!,
        keepTmpAs
          ? (line) => (line === RESET_LINE ? this.resetting(keepTmpAs, exited, resetSaid) : log(line))
          : log,
      );
      onLines(child.stderr!, (line) => log(`[serval-agent] ${line}`));
      if (ledger && start.deadlines)
        unwatch = this.deadlines.watchChild(ledger.fd, start.deadlines, child, this.sandboxed, (c) =>
          kill(c, 'SIGKILL'),
        );
      settleSpawn(child);
      return child;
    };
    const kill = (running: ChildProcess, signal: NodeJS.Signals) => {
      try {
        if (command.inProcess && !this.sandboxed && running.pid !== undefined)
          process.kill(-running.pid, signal);
        else running.kill(signal);
      } catch {
        // already gone
      }
    };
    let link: Duplex | undefined;
    if (!command.inProcess) {
      link = (begin('pipe').stdio[LINK_FD] as Duplex | null) ?? undefined; // none if the spawn itself failed
    } else {
      const { keepTmpAs } = start;
      linkInProcess({
        previous: keepTmpAs ? this.keptTmp.settled(keepTmpAs) : Promise.resolve(),
        stopped: () => stopped,
        begin: (environment) => {
          if (keepTmpAs) this.keptTmp.take(keepTmpAs, envDir.tmpDir);
          return begin(environment);
        },
        onLink: start.onLink,
        abandon: (reason) => {
          if (reason) log(`[serval-agent] ${reason}`);
          settleSpawn(undefined);
        },
      });
    }
    const exited = spawned
      .then(
        (spawnedChild) =>
          new Promise<string>((resolve) => {
            if (!spawnedChild) return resolve('agent could not start: no link');
            spawnedChild.once('error', (err) => resolve(`agent could not start: ${err.message}`));
            spawnedChild.once('exit', (code, signal) =>
              resolve(signal ? `agent killed by ${signal}` : `agent exited with ${code}`),
            );
          }),
      )
      .then(async (reason) => {
        unwatch?.();
        if (ledger) closeLedger(ledger.fd);
        // Whatever the runtime started (even with setsid) ends with its environment.
        await cgroup?.remove();
        // Said before its last words: the gateway's stop may then end the process before its own exit.
        if (start.keepTmpAs && (resetSaid.value || reason === IN_PROCESS_RESET) && !this.closing)
          this.keptTmp.keep(start.keepTmpAs, envDir.tmpDir);
        this.dirs.remove(envDir);
        this.running.delete(launched);
        return reason;
      });
    const launched: LaunchedEnvironment = {
      exited,
      stop: () => {
        stopped = true;
        const running = child;
        if (!running || running.exitCode !== null || running.signalCode !== null) return;
        kill(running, 'SIGTERM');
        setTimeout(() => {
          if (running.exitCode === null && running.signalCode === null) kill(running, 'SIGKILL');
        }, SHUTDOWN_GRACE_MS).unref();
      },
    };
    this.running.add(launched);
    return { launched, link };
  }

  /**
   * The agent, or for a nodejs* function in in-process mode the agent with its runtime inside. A generic
   * (pre-warmed) environment is always an agent: in-process mode has no specialisation protocol (ADR-52).
   */
  private environmentCommand(start: AgentStart): { argv: string[]; inProcess: boolean } {
    if (start.prewarm || !this.inProcess(start.runtime))
      return { argv: [process.execPath, this.shims.agentMain], inProcess: false };
    return { argv: inProcessArgv(this.shims, start.memoryMB), inProcess: true };
  }

  /** An in-process environment said it resets itself: a replacement waits for its /tmp. */
  private resetting(key: string, exited: Promise<string>, said: { value: boolean }): void {
    said.value = true;
    this.keptTmp.ending(key, exited);
  }

  /** Whether a function of `runtime` gets an in-process environment (a generic one never does). */
  private inProcess(runtime: string | undefined): boolean {
    return this.nodeInProcess && runtime?.startsWith('nodejs') === true;
  }

  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.running];
    for (const env of all) env.stop();
    await Promise.all(all.map((env) => env.exited));
    this.cgroups?.close();
    this.deadlines.close();
    this.keptTmp.close();
    this.dirs.close();
  }
}
