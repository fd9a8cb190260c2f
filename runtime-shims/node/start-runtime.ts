// The runtime's start-up, shared by its two hosts: bootstrap.ts (a process of its own that polls the
// Runtime API) and in-process mode (the environment's agent in the same process, ADR-52). Wires logging and
// fault reporting, loads the user's handler, then serves invocations from `client`.
import { defineGlobalAwsLambda } from './awslambda-global.ts';
import { BeforeExitHook } from './before-exit.ts';
import { ConcurrentInvokeLoop } from './concurrent-invoke-loop.ts';
import type { RuntimeConfig } from './config.ts';
import { type LoadedHandler, loadHandler } from './handler-loader.ts';
import { InvocationScope } from './invocation-scope.ts';
import { InvokeLoop } from './invoke-loop.ts';
import { RuntimeLog } from './log-patch.ts';
import type { FaultSink } from './process-faults.ts';
import { FaultReporter } from './process-faults.ts';
import type { RuntimeClient } from './runtime-api-client.ts';
import { withTraceIdOverlay } from './trace-env.ts';

const CALLBACK_WARNING =
  'AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. You will ' +
  'need to update this function to use an async handler to use Node.js 24 or later. For more information and ' +
  'to provide feedback on this change, see https://github.com/aws/aws-lambda-nodejs-runtime-interface-client/issues/137. ' +
  'To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.';

export interface RuntimeHost {
  client: RuntimeClient;
  /** Where the function's log records go (the process's stdout, or the in-process log stream). */
  write: (record: string) => void;
  /** Ends the runtime after a fault was reported (process.exit, or the in-process environment's reset). */
  exit: (code: number) => void;
  /** Where faults are reported, when not through `client` (in-process: a fault also ends the environment). */
  faults?: FaultSink;
}

export async function startRuntime(config: RuntimeConfig, host: RuntimeHost): Promise<void> {
  // Several invocations at once (multi-concurrency): each one's logs and trace id follow its own code.
  const scope = config.maxConcurrency === undefined ? undefined : new InvocationScope();
  // Before the handler loads, so code that keeps a reference to process.env sees every invocation's trace.
  process.env = withTraceIdOverlay(process.env, scope);
  const log = new RuntimeLog({ format: config.logFormat, level: config.logLevel, write: host.write, scope });
  log.patch(console);

  const { client } = host;
  const faults = new FaultReporter(host.faults ?? client, log, host.exit);
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
