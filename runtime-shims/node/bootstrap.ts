// Entry point of Serval's Node.js runtime as a process of its own: serves invocations from the Runtime API
// until the environment goes away.
import { type RuntimeConfig, readConfig } from './config.ts';
import { EXIT_UNCAUGHT_EXCEPTION } from './process-faults.ts';
import { RuntimeApiClient } from './runtime-api-client.ts';
import { startRuntime } from './start-runtime.ts';

let config: RuntimeConfig;
try {
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
