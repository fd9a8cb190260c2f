// Entry point of every execution environment: serves the Runtime API and links upstream to the gateway.
import { flushCompileCache } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { batchedLineWriter } from '../../apis/line-writer.ts';
import { readAgentConfig } from './config.ts';
import { connectUpstream } from './upstream-link.ts';

const runtimeShimsDir = dirname(dirname(fileURLToPath(import.meta.url)));

try {
  const config = readAgentConfig(process.env, runtimeShimsDir);
  const sink = batchedLineWriter((chunk) => process.stdout.write(chunk));
  const link = connectUpstream(config, sink);
  // Agents end by signal, when Node would not write its compile cache; write it once we are up.
  if (process.env.NODE_COMPILE_CACHE) setTimeout(() => flushCompileCache(), 1000).unref();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      link.stop(); // the runtime runs in its own process group and must not outlive its agent
      process.exit(0);
    });
  }
  await link.closed;
  // A sidecar that exits is restarted by the kubelet and would link again: it waits for its pod to end.
  if (config.attachedRuntime) setInterval(() => undefined, 60_000);
  else process.exit(0);
} catch (err) {
  process.stderr.write(`serval-agent: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
