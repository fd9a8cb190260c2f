// Starts a real nats-server with JetStream on a free loopback port, its store in a directory of the test's.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { testDataRoot } from './serval.ts';
import { serverAvailable } from './servers.ts';

/** Whether nats-server is installed; in CI it must be (scripts/test-servers.sh installs it). */
export const natsAvailable = serverAvailable('nats-server', 'nats-server');

export interface TestNats {
  url: string;
  /** Kills the server; the store stays unless `remove` is set. */
  stop(remove?: boolean): Promise<void>;
}

/** `args` are more of nats-server's flags, e.g. `['--user', 'u', '--pass', 'p']` for a server with a login. */
export async function startNats({ args = [] }: { args?: string[] } = {}): Promise<TestNats> {
  const dir = mkdtempSync(join(testDataRoot(), 'nats-'));
  mkdirSync(dir, { recursive: true });
  const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${output}`)), 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Listening for client connections on ([\d.]+):(\d+)/.exec(output);
      if (match && /Server is ready/.test(output)) {
        clearTimeout(timer);
        resolve(`nats://127.0.0.1:${match[2]}`);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run nats-server (apt-get install nats-server): ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    async stop(remove = true) {
      await kill(child);
      if (remove) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}
