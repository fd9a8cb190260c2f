// Turns the environment's process into the function's runtime process, as the agent's spawn would have made
// it: Lambda's variables instead of the agent's (its link credential goes), the code directory as the
// working directory, layer paths for require(), and the process's own output into the function's log.
import type { EnvironmentSpec } from '../../../apis/environment-link.ts';
import type { AgentConfig } from '../../agent/config.ts';
import { runtimeEnvironment } from '../../agent/runtime-environment.ts';
import { type RuntimeConfig, readConfig } from '../config.ts';

export function enterFunctionEnvironment(
  spec: EnvironmentSpec,
  config: AgentConfig,
  streamName: string,
  runtimeApi: string,
): RuntimeConfig {
  const env = runtimeEnvironment({
    spec,
    runtimeApi,
    runtimeDir: config.runtimeDir,
    tmpDir: config.tmpDir,
    passthrough: config.passthroughEnv,
    logStreamName: streamName,
    nodeCompileCache: config.nodeCompileCache,
    optDir: config.optDir,
  });
  if (!runtimeApi) delete env.AWS_LAMBDA_RUNTIME_API;
  for (const key of Object.keys(process.env)) delete process.env[key];
  // PWD as agent mode has it: the shell that joins its runtime to the memory cgroup exports it (without a
  // cgroup the agent starts the runtime itself, with none).
  Object.assign(process.env, env, config.memoryCgroup ? { PWD: spec.codeDir } : {});
  process.chdir(spec.codeDir);
  // Node reads NODE_PATH once, at start-up; the layers' paths are only known now.
  const nodeModule = process.getBuiltinModule('node:module') as unknown as { Module: { _initPaths(): void } };
  nodeModule.Module._initPaths();
  return readConfig({ ...env, AWS_LAMBDA_RUNTIME_API: 'in-process' }, spec.codeDir);
}

/** What the function writes to stdout and stderr goes to `output` (the log stream), as a runtime's pipes did. */
export function captureOutput(output: (text: string) => void): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
      const done = typeof encoding === 'function' ? encoding : callback;
      output(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      if (typeof done === 'function') process.nextTick(done as () => void);
      return true;
    }) as typeof stream.write;
  }
}
