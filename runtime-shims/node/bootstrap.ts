// Entry point of Serval's Node.js runtime as a process of its own: serves invocations from the Runtime API
// until the environment goes away.
import { type RuntimeConfig, readConfig } from './config.ts';
import { EXIT_UNCAUGHT_EXCEPTION } from './process-faults.ts';
import { RuntimeApiClient } from './runtime-api-client.ts';
import { startRuntime } from './start-runtime.ts';

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
// The agent reads our output. If it is gone (EPIPE), nobody is left to report to, and every failed write
// would raise another error to log: end at once instead of spinning on them.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', () => process.exit(EXIT_UNCAUGHT_EXCEPTION));
}
// Stdout is the function's log: the agent reads it line by line.
await startRuntime(config, {
  client: new RuntimeApiClient(config.runtimeApi),
  write: (record) => process.stdout.write(record),
  exit: (code) => process.exit(code),
});
