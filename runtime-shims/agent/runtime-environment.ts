// The variables a runtime process starts with: Lambda's reserved and default ones over the user's (reference §2).
import type { EnvironmentSpec } from '../../apis/environment-link.ts';

export interface RuntimeEnvironmentInputs {
  spec: EnvironmentSpec;
  runtimeApi: string;
  runtimeDir: string;
  tmpDir: string;
  passthrough: Record<string, string>;
  logStreamName: string;
  nodeCompileCache?: string | undefined;
  /** Where the layers are (Lambda's /opt). */
  optDir?: string | undefined;
}

export function runtimeEnvironment(inputs: RuntimeEnvironmentInputs): Record<string, string> {
  const { spec } = inputs;
  const env: Record<string, string> = {
    LANG: 'en_US.UTF-8',
    TZ: 'UTC',
    AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    // Node's compile cache roughly halves runtime start; a function may still set its own.
    ...(inputs.nodeCompileCache && spec.runtime.startsWith('nodejs')
      ? { NODE_COMPILE_CACHE: inputs.nodeCompileCache }
      : {}),
    ...inputs.passthrough,
    ...spec.environment,
    // Reserved: set last so nothing the user or host supplies can override them.
    _HANDLER: spec.handler,
    AWS_REGION: spec.region,
    AWS_DEFAULT_REGION: spec.region,
    AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMB),
    AWS_LAMBDA_FUNCTION_VERSION: spec.version,
    AWS_LAMBDA_INITIALIZATION_TYPE: spec.initializationType,
    AWS_LAMBDA_LOG_GROUP_NAME: `/serval/${spec.namespace}/${spec.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: inputs.logStreamName,
    AWS_LAMBDA_LOG_FORMAT: spec.logFormat,
    AWS_LAMBDA_RUNTIME_API: inputs.runtimeApi,
    LAMBDA_TASK_ROOT: spec.codeDir,
    LAMBDA_RUNTIME_DIR: inputs.runtimeDir,
    TMPDIR: inputs.tmpDir,
  };
  if (spec.applicationLogLevel) env.AWS_LAMBDA_LOG_LEVEL = spec.applicationLogLevel;
  // Its presence is what switches the official clients to their multi-concurrent mode, so only when opted in.
  if (spec.maxConcurrency !== undefined) env.AWS_LAMBDA_MAX_CONCURRENCY = String(spec.maxConcurrency);
  // Custom runtimes get no AWS_EXECUTION_ENV (reference §2.1).
  if (!spec.runtime.startsWith('provided')) env.AWS_EXECUTION_ENV = `AWS_Lambda_${spec.runtime}`;
  // Layer search paths as Lambda sets them (reference §2.2): a function's own values win.
  const opt = inputs.optDir ?? '/opt';
  if (spec.runtime.startsWith('nodejs'))
    env.NODE_PATH ??= `${opt}/nodejs/node_modules:${opt}/nodejs/node${nodeMajor(spec.runtime)}/node_modules:/var/runtime/node_modules`;
  if (spec.runtime.startsWith('python')) {
    const version = spec.runtime.slice('python'.length);
    env.PYTHONPATH ??= `${opt}/python:${opt}/python/lib/python${version}/site-packages`;
  }
  if (!spec.environment.PATH) env.PATH = [env.PATH, `${opt}/bin`].filter(Boolean).join(':');
  const { runtimeDir } = inputs;
  env.LD_LIBRARY_PATH ??= `/lib64:/usr/lib64:${runtimeDir}:${runtimeDir}/lib:${spec.codeDir}:${spec.codeDir}/lib:${opt}/lib`;
  return env;
}

/** `YYYY/MM/DD/[version]<32 hex>`, the shape Lambda's stream names take. */
export function logStreamName(version: string, environmentId: string, now: Date): string {
  const date = now.toISOString().slice(0, 10).replaceAll('-', '/');
  const hex = environmentId
    .replace(/[^0-9a-f]/g, '')
    .padEnd(32, '0')
    .slice(0, 32);
  return `${date}/[${version}]${hex}`;
}

function nodeMajor(runtime: string): string {
  return runtime.replace(/^nodejs(\d+)\..*$/, '$1');
}
