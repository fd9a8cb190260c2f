// Reads the runtime's configuration from Lambda's environment variables, once, at startup.

export type LogFormat = 'Text' | 'JSON';
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'FATAL';

/** What the context object takes from the environment (reference §3.1). */
export interface FunctionEnvironment {
  functionName: string | undefined;
  functionVersion: string | undefined;
  memoryLimitInMB: string | undefined;
  logGroupName: string | undefined;
  logStreamName: string | undefined;
}

export interface RuntimeConfig {
  /** `host:port` of the Runtime API. */
  runtimeApi: string;
  /** `_HANDLER`, e.g. `src/index.handler`. */
  handler: string;
  taskRoot: string;
  function: FunctionEnvironment;
  logFormat: LogFormat;
  /** The lowest level written; only JSON format filters (Lambda allows levels with JSON logs only). */
  logLevel: LogLevel;
  /** Whether to define `globalThis.awslambda` (streamifyResponse, HttpResponseStream) before user code loads. */
  defineGlobalAwsLambda: boolean;
  /** Whether to print the official client's deprecation warning for callback-style handlers. */
  warnOnCallbackHandler: boolean;
  /** AWS_LAMBDA_MAX_CONCURRENCY: invocations to run at once (multi-concurrency); unset runs one at a time. */
  maxConcurrency: number | undefined;
}

const LEVELS: readonly LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

export class ConfigError extends Error {}

export function readConfig(env: NodeJS.ProcessEnv, cwd: string): RuntimeConfig {
  const runtimeApi = env.AWS_LAMBDA_RUNTIME_API;
  if (!runtimeApi)
    throw new ConfigError('AWS_LAMBDA_RUNTIME_API is not set; the runtime has no Runtime API to call');
  const logFormat: LogFormat = env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON' ? 'JSON' : 'Text';
  const level = env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase();
  const noGlobal = env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  const maxConcurrency = env.AWS_LAMBDA_MAX_CONCURRENCY;
  if (maxConcurrency !== undefined && !/^[1-9][0-9]{0,3}$/.test(maxConcurrency))
    throw new ConfigError(`AWS_LAMBDA_MAX_CONCURRENCY must be a positive integer, got ${maxConcurrency}`);
  return {
    runtimeApi,
    // An empty handler fails later as Runtime.MalformedHandlerName, which is what Lambda reports.
    handler: env._HANDLER ?? '',
    taskRoot: env.LAMBDA_TASK_ROOT || cwd,
    function: {
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    },
    logFormat,
    logLevel: logFormat === 'JSON' ? (LEVELS.find((l) => l === level) ?? 'TRACE') : 'TRACE',
    defineGlobalAwsLambda: noGlobal !== '1' && noGlobal !== 'true',
    warnOnCallbackHandler: env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined,
    maxConcurrency: maxConcurrency === undefined ? undefined : Number(maxConcurrency),
  };
}
