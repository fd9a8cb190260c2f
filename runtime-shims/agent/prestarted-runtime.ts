// A pre-warmed environment's runtime (ADR-50): Serval's own Node or Python runtime, started before the
// environment has a function, its own modules loaded, waiting on a pipe for the one function it will ever
// serve. Specialising it replaces its whole process environment, so the function sees exactly its own
// variables; a function whose variables would have changed how the process started gets a fresh one instead.
import type { EnvironmentSpec } from '../../apis/environment-link.ts';
import type { AgentConfig } from './config.ts';
import { runtimeCommand } from './runtime-command.ts';
import { runtimeEnvironment } from './runtime-environment.ts';
import { RuntimeProcess } from './runtime-process.ts';

/** Read by the interpreter (or its loader) when the process starts, so they cannot change afterwards. */
const READ_AT_START = /^(NODE_|UV_|LD_|PYTHON|LC_|MALLOC|GLIBC|LANG$|TZ$)/;

export interface PrewarmProfile {
  runtime: string;
  memoryMB: number;
  /** LAMBDA_TASK_ROOT the function will have: /var/task in a sandbox; unknown (undefined) without one. */
  taskRoot: string | undefined;
}

export class PrestartedRuntime {
  private readonly process: RuntimeProcess;
  /** The variables it was started with, which specialisation replaces. */
  private readonly started: string[];
  /** Where the runtime's output goes: nowhere until it has a function (it writes nothing before). */
  private output: (s: string) => void = () => undefined;
  private exited = false;

  private constructor(process: RuntimeProcess, started: string[]) {
    this.process = process;
    this.started = started;
    void process.exited.then(() => {
      this.exited = true;
    });
  }

  /** Starts the runtime of a pre-warmed environment; undefined for runtimes that are not Serval's own. */
  static start(
    config: AgentConfig,
    profile: PrewarmProfile,
    runtimeApi: string,
  ): PrestartedRuntime | undefined {
    if (!/^(nodejs|python)/.test(profile.runtime)) return undefined;
    const spec: EnvironmentSpec = {
      environmentId: 'prewarm',
      namespace: '',
      functionName: '',
      version: '',
      runtime: profile.runtime,
      handler: '',
      codeDir: profile.taskRoot ?? config.tmpDir,
      memoryMB: profile.memoryMB,
      timeoutSeconds: 0,
      region: '',
      logFormat: 'Text',
      initializationType: 'on-demand',
      environment: {},
    };
    const command = runtimeCommand(
      spec,
      config.runtimeDir,
      config.passthroughEnv.PATH ?? '',
      config.pythonExecutable,
    );
    if (!command.ok) return undefined;
    // Lambda's variables for no function yet: all of them are replaced at specialisation.
    const startEnv = runtimeEnvironment({
      spec,
      runtimeApi,
      runtimeDir: config.runtimeDir,
      tmpDir: config.tmpDir,
      passthrough: config.passthroughEnv,
      logStreamName: '',
      nodeCompileCache: config.nodeCompileCache,
      optDir: config.optDir,
    });
    let runtime: PrestartedRuntime | undefined;
    const env = { ...startEnv, SERVAL_SPECIALISE_FD: '3' };
    const process = new RuntimeProcess(
      command.file,
      command.args,
      spec.codeDir,
      env,
      (s) => runtime?.output(s),
      { memoryMB: profile.memoryMB, cgroup: config.memoryCgroup, specialisable: true },
    );
    runtime = new PrestartedRuntime(process, Object.keys(env));
    return runtime;
  }

  /**
   * The runtime for a function whose process has `env` (its own variables `own` among them) in `cwd`,
   * specialised now; undefined (and the pre-started one ended) when it cannot serve it: it died, or the
   * function sets a variable read at start. The others read at start derive from the same profile and
   * agent, so they match, but for the code's place in LD_LIBRARY_PATH without a sandbox (ADR-50).
   */
  take(
    env: Record<string, string>,
    own: Record<string, string>,
    cwd: string,
    output: (s: string) => void,
  ): RuntimeProcess | undefined {
    if (this.exited || Object.keys(own).some((key) => READ_AT_START.test(key))) {
      this.kill();
      return undefined;
    }
    this.output = output;
    this.process.specialise(env, cwd, this.started);
    return this.process;
  }

  kill(): void {
    this.process.kill();
  }
}
