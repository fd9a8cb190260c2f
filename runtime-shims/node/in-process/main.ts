// Entry point of an in-process Node environment (ADR-52): the agent's link to the gateway and Serval's Node
// runtime in one process, for nodejs* zip functions (SERVAL_NODE_IN_PROCESS). The local provider starts it
// under supervise.sh (ADR-54), which hands the link over again on an IPC channel: received that way its
// descriptor is close-on-exec, so the processes a handler starts do not inherit it. A pod's pod.sh dials
// the link itself and passes it as an inherited fd (ADR-58).
import { closeSync, openSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readAgentConfig } from '../../agent/config.ts';
import { connectUpstream } from '../../agent/upstream-link.ts';
import { InProcessEnvironment } from './environment.ts';
import { LogSink } from './log-sink.ts';

const runtimeShimsDir = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** The link socket the supervisor's parent sends over the IPC channel; the channel then closes. */
function receiveLink(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    process.once('message', (_message, handle) => {
      process.disconnect?.();
      if (handle) resolve(handle as Socket);
      else reject(new Error('the link did not come with its message'));
    });
  });
}

/** A close-on-exec descriptor of the same open file (Node opens with O_CLOEXEC); the inherited one closes. */
function reopen(fd: number, flags: 'r' | 'w'): number {
  const own = openSync(`/proc/self/fd/${fd}`, flags);
  closeSync(fd);
  return own;
}

try {
  const config = readAgentConfig(process.env, runtimeShimsDir);
  const ledgerPath = process.env.SERVAL_IN_PROCESS_STATE;
  let socket: Socket | undefined;
  let joinedCgroup = false;
  // Under supervise.sh: the local provider's (the link on an IPC channel) or a pod's pod.sh (ADR-58). Both
  // open the ledger; the channel is gone once the link came over it.
  const supervised = Boolean(process.channel || ledgerPath);
  if (process.channel) {
    socket = await receiveLink();
    config.linkFd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
  }
  // The supervisor joined the cgroup and keeps its OOM count; only the peak is read here.
  if (supervised) {
    if (config.memoryCgroup)
      config.memoryCgroup = { procs: -1, peak: reopen(config.memoryCgroup.peak, 'r'), events: -1 };
    joinedCgroup = true;
  }
  if (config.linkFd === undefined)
    throw new Error('in-process mode needs its link as a passed-in socket (SERVAL_LINK_FD)');
  const logs = new LogSink(1);
  const link = connectUpstream(
    config,
    logs.line,
    (context) => new InProcessEnvironment(context, logs, { ledgerPath, joinedCgroup }),
    socket,
  );
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
