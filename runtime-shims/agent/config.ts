// The agent's start-up configuration, read from its process environment once and passed down.
import { existsSync } from 'node:fs';

export interface AgentConfig {
  /** ws:// URL of this environment's link endpoint on the gateway. */
  linkUrl: string;
  /**
   * A connected socket to the gateway passed in by the local provider (SERVAL_LINK_FD): the link travels
   * over it instead of dialling linkUrl, whose path still names the endpoint. Pods dial (no fd).
   */
  linkFd: number | undefined;
  /** Per-environment bearer credential for the link; never passed to the runtime. */
  token: string;
  /** host:port the Runtime API listens on; port 0 picks a free one (several environments on one host). */
  runtimeApiHost: string;
  runtimeApiPort: number;
  /** Directory holding the managed runtimes (LAMBDA_RUNTIME_DIR). */
  runtimeDir: string;
  /** The environment's /tmp (TMPDIR for the runtime). */
  tmpDir: string;
  /** The code directory when the pod mounts it somewhere of its own (cluster mode); else the gateway's. */
  codeDir: string | undefined;
  /** The Python interpreter for python runtimes, when the provider resolved one; else PATH decides. */
  pythonExecutable: string | undefined;
  /** Where Node runtimes keep V8's compile cache (NODE_COMPILE_CACHE), if anywhere. */
  nodeCompileCache: string | undefined;
  /** Where the function's layers are: /opt, or the merged directory itself in an unsandboxed local environment. */
  optDir: string;
  /** The runtime's memory cgroup, as fds the provider opened: join it, read its peak, count OOM kills. */
  memoryCgroup: { procs: number; peak: number; events: number } | undefined;
  /** In a pod: the file that counts the container's OOM kills, the first of SERVAL_CONTAINER_MEMORY_EVENTS that exists. */
  containerMemoryEvents: string | undefined;
  /**
   * The runtime is not the agent's to start: a container-image function's own ENTRYPOINT runs in the pod's
   * other container and dials the Runtime API (SERVAL_ATTACHED_RUNTIME=1, ADR-40).
   */
  attachedRuntime: boolean;
  /** The pod starts with an init CPU boost: the proportional share (millicores) the first handler waits for (ADR-48). */
  cpuAfterInitMillicores: number | undefined;
  /**
   * A pre-warmed local environment (ADR-50): no function yet; Serval's own runtime for this profile starts
   * now and waits for its function, whose spec arrives when the gateway hands the link over.
   */
  prewarm: { runtime: string; memoryMB: number; taskRoot: string | undefined } | undefined;
  /** Host variables handed through to the runtime (PATH, HOME, …): local mode needs the host's tools. */
  passthroughEnv: Record<string, string>;
}

const PASSTHROUGH = ['PATH', 'HOME', 'SERVAL_CACHE'];
export const FUNCTION_ENV_PREFIX = 'SERVAL_FUNCTION_ENV_';

export function readAgentConfig(env: NodeJS.ProcessEnv, runtimeDirDefault: string): AgentConfig {
  const linkUrl = required(env, 'SERVAL_LINK_URL');
  const token = required(env, 'SERVAL_ENVIRONMENT_TOKEN');
  const [host, port] = (env.SERVAL_RUNTIME_API_ADDRESS ?? '127.0.0.1:9001').split(':');
  const runtimeApiPort = Number(port);
  if (!host || !Number.isInteger(runtimeApiPort) || runtimeApiPort < 0 || runtimeApiPort > 65535) {
    throw new Error(`SERVAL_RUNTIME_API_ADDRESS must be host:port, got ${env.SERVAL_RUNTIME_API_ADDRESS}`);
  }
  const linkFd = optionalFds(env, 'SERVAL_LINK_FD', 1)?.[0];
  const cgroupFds = optionalFds(env, 'SERVAL_MEMORY_CGROUP_FDS', 3);
  const passthroughEnv: Record<string, string> = {};
  for (const key of PASSTHROUGH) {
    const value = env[key];
    if (value !== undefined) passthroughEnv[key] = value;
  }
  // Variables a pod gets from the function's Secrets (envFrom with this prefix) are the function's own.
  for (const [key, value] of Object.entries(env)) {
    if (
      key.startsWith(FUNCTION_ENV_PREFIX) &&
      value !== undefined &&
      key.length > FUNCTION_ENV_PREFIX.length
    ) {
      passthroughEnv[key.slice(FUNCTION_ENV_PREFIX.length)] = value;
    }
  }
  return {
    linkUrl,
    linkFd,
    token,
    runtimeApiHost: host,
    runtimeApiPort,
    runtimeDir: env.SERVAL_RUNTIME_DIR ?? runtimeDirDefault,
    tmpDir: env.SERVAL_TMP_DIR ?? '/tmp',
    codeDir: env.SERVAL_CODE_DIR || undefined,
    nodeCompileCache: env.SERVAL_NODE_COMPILE_CACHE,
    optDir: env.SERVAL_OPT_DIR || '/opt',
    pythonExecutable: env.SERVAL_PYTHON,
    memoryCgroup: cgroupFds && { procs: cgroupFds[0]!, peak: cgroupFds[1]!, events: cgroupFds[2]! },
    // A list, as the pod cannot know whether its node has cgroup v2 (memory.events) or v1 (memory.oom_control).
    containerMemoryEvents: (env.SERVAL_CONTAINER_MEMORY_EVENTS ?? '')
      .split(':')
      .find((path) => path !== '' && existsSync(path)),
    passthroughEnv,
    attachedRuntime: env.SERVAL_ATTACHED_RUNTIME === '1',
    cpuAfterInitMillicores: positive(env.SERVAL_CPU_AFTER_INIT_MILLICORES),
    prewarm: env.SERVAL_PREWARM_RUNTIME
      ? {
          runtime: env.SERVAL_PREWARM_RUNTIME,
          memoryMB: positive(env.SERVAL_PREWARM_MEMORY_MB) ?? 128,
          taskRoot: env.SERVAL_PREWARM_TASK_ROOT || undefined,
        }
      : undefined,
  };
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value && Number.isFinite(n) && n > 0 ? n : undefined;
}

function required(env: NodeJS.ProcessEnv, key: string): string {
  const value = env[key];
  if (!value) throw new Error(`${key} is required`);
  return value;
}

/** A comma-separated list of exactly `count` file descriptor numbers, when the variable is set. */
function optionalFds(env: NodeJS.ProcessEnv, key: string, count: number): number[] | undefined {
  const value = env[key];
  if (!value) return undefined;
  const fds = value.split(',').map(Number);
  if (fds.length !== count || !fds.every((fd) => Number.isInteger(fd) && fd > 2)) {
    throw new Error(`${key} must be ${count} file descriptor number(s) above 2, got ${value}`);
  }
  return fds;
}
