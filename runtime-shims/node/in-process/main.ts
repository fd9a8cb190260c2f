// Entry point of an in-process Node environment (ADR-52): the agent's link to the gateway and Serval's Node
// runtime in one process, for nodejs* zip functions where the provider opts in (SERVAL_NODE_IN_PROCESS).
import { flushCompileCache } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAgentConfig } from '../../agent/config.ts';
import { connectUpstream } from '../../agent/upstream-link.ts';
import { InProcessEnvironment } from './environment.ts';
import { LogSink } from './log-sink.ts';

const runtimeShimsDir = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

try {
  const config = readAgentConfig(process.env, runtimeShimsDir);
  if (config.linkFd === undefined)
    throw new Error('in-process mode needs its link as a passed-in socket (SERVAL_LINK_FD)');
  const logs = new LogSink(1);
  const link = connectUpstream(config, logs.line, (context) => new InProcessEnvironment(context, logs));
  // The link's credential was for the handshake; nothing in the function's reach keeps it.
  config.token = '';
  if (process.env.NODE_COMPILE_CACHE) setTimeout(() => flushCompileCache(), 1000).unref();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      link.stop();
      logs.flush();
      process.exit(0);
    });
  }
  await link.closed;
  logs.flush();
  process.exit(0);
} catch (err) {
  process.stderr.write(`serval-node-in-process: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
