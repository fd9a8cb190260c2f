// Entry point of every execution environment: serves the Runtime API and links upstream to the gateway.
import { flushCompileCache } from 'node:module';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { batchedLineWriter } from '../../apis/line-writer.ts';
import { readAgentConfig } from './config.ts';
import { connectUpstream } from './upstream-link.ts';

/** How long a sidecar agent told to stop may still report the invocation its runtime's exit failed. */
const ATTACHED_STOP_GRACE_MS = 5000;

const runtimeShimsDir = dirname(dirname(fileURLToPath(import.meta.url)));

try {
  const config = readAgentConfig(process.env, runtimeShimsDir);
  const sink = batchedLineWriter((chunk) => process.stdout.write(chunk));
  const link = connectUpstream(config, sink);
  // Agents end by signal, when Node would not write its compile cache; write it once we are up.
  if (process.env.NODE_COMPILE_CACHE) setTimeout(() => flushCompileCache(), 1000).unref();
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, async () => {
      // A sidecar is stopped when the image's runtime has exited; the result that says so goes out first.
      if (config.attachedRuntime) await Promise.race([link.closed, sleep(ATTACHED_STOP_GRACE_MS)]);
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
