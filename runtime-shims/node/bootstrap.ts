// Entry point of Serval's Node.js runtime: wires logging and fault reporting, loads the user's handler, then
// serves invocations from the Runtime API until the environment goes away.
import { defineGlobalAwsLambda } from './awslambda-global.ts';
import { BeforeExitHook } from './before-exit.ts';
import { ConcurrentInvokeLoop } from './concurrent-invoke-loop.ts';
import { type RuntimeConfig, readConfig } from './config.ts';
import { type LoadedHandler, loadHandler } from './handler-loader.ts';
import { InvocationScope } from './invocation-scope.ts';
import { InvokeLoop } from './invoke-loop.ts';
import { RuntimeLog } from './log-patch.ts';
import { EXIT_UNCAUGHT_EXCEPTION, FaultReporter } from './process-faults.ts';
import { RuntimeApiClient } from './runtime-api-client.ts';
import { withTraceIdOverlay } from './trace-env.ts';

const CALLBACK_WARNING =
  'AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will ' +
  'need to update this function to use an async handler to use Node.js 24 or later. For more information and ' +
  'to provide feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. ' +
  'To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';

async function start(config: RuntimeConfig): Promise<void> {
  // Several invocations at once (multi-concurrency): each one's logs and trace id follow its own code.
  const scope = config.maxConcurrency === undefined ? undefined : new InvocationScope();
  // Before the handler loads, so code that keeps a reference to process.env sees every invocation's trace.
  process.env = withTraceIdOverlay(process.env, scope);
  // Stdout is the function's log: the agent reads it line by line.
  const log = new RuntimeLog({
    format: config.logFormat,
    level: config.logLevel,
    write: (record) => process.stdout.write(record),
    scope,
  });
  log.patch(console);

  // The agent reads our output. If it is gone (EPIPE), nobody is left to report to, and every failed write
  // would raise another error to log: end at once instead of spinning on them.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => process.exit(EXIT_UNCAUGHT_EXCEPTION));
  }
  const client = new RuntimeApiClient(config.runtimeApi);
  const faults = new FaultReporter(client, log, (code) => process.exit(code));
  const exitHook = new BeforeExitHook();
  // Listening turns Node's default crash into a reported error for the invocation (or init) that caused it.
  process.on('uncaughtException', (error) => faults.uncaughtException(error));
  process.on('unhandledRejection', (reason, promise) => faults.unhandledRejection(reason, promise));
  process.on('beforeExit', () => exitHook.fire());

  if (config.defineGlobalAwsLambda) defineGlobalAwsLambda();
  let handler: LoadedHandler;
  try {
    handler = await loadHandler(config.taskRoot, config.handler);
  } catch (error) {
    faults.initFailed(error);
    return;
  }
  persistCompileCache();
  if (config.warnOnCallbackHandler && handler.argsNum === 3 && !handler.isAsync && !handler.streaming) {
    console.warn(CALLBACK_WARNING);
  }
  const deps = { client, handler, log, exitHook, faults, fn: config.function, env: process.env };
  if (scope) new ConcurrentInvokeLoop(deps, scope, config.maxConcurrency ?? 1).start();
  else new InvokeLoop(deps).start();
}

/**
 * With NODE_COMPILE_CACHE set, Node caches compiled (and type-stripped) modules, which takes ~60 ms off a cold
 * start. It writes the cache only at a clean exit, and environments end by SIGKILL, so write it after init.
 */
function persistCompileCache(): void {
  const nodeModule = process.getBuiltinModule('node:module');
  if (nodeModule.getCompileCacheDir?.()) nodeModule.flushCompileCache?.();
}

/**
 * A pre-started runtime (ADR-50) waits here, its own modules loaded and no function code yet, for the one
 * line the agent writes on fd `fd`: the function's variables, its task root, and the variables we were
 * started with. Those all go; what the process set itself at start stays (PWD, now the task root's), as
 * in a runtime started for the function. From then on it starts exactly as a freshly spawned one does.
 */
async function specialise(fd: number): Promise<void> {
  const { Socket } = process.getBuiltinModule('node:net');
  const pipe = new Socket({ fd, readable: true, writable: false });
  let text = '';
  for await (const chunk of pipe) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  pipe.destroy();
  if (!text.includes('\n')) process.exit(0); // the agent went away before giving us a function
  const message = JSON.parse(text) as { env: Record<string, string>; cwd: string; started: string[] };
  const { env, cwd } = message;
  const started = new Set(message.started);
  process.chdir(cwd);
  if (process.env.PWD !== undefined && !started.has('PWD')) process.env.PWD = cwd;
  for (const key of Object.keys(process.env))
    if (started.has(key) && !Object.hasOwn(env, key)) delete process.env[key];
  Object.assign(process.env, env);
}

let config: RuntimeConfig;
try {
  const specialiseFd = process.env.SERVAL_SPECIALISE_FD;
  if (specialiseFd) await specialise(Number(specialiseFd));
  config = readConfig(process.env, process.cwd());
} catch (error) {
  // Without a Runtime API there is nobody to report to but the log.
  process.stderr.write(`serval node runtime: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
await start(config);
