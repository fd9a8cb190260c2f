// Starts a real RabbitMQ (Debian's rabbitmq-server) as a private node on free loopback ports — AMQP, Erlang
// distribution and its own epmd — with its database and logs in a directory of the test's.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import amqp from 'amqplib';
import { freePort } from './free-port.ts';
import { testDataRoot } from './serval.ts';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/** Whether rabbitmq-server is installed; in CI it must be (.ci/run installs it). */
export const rabbitmqAvailable = (() => {
  const available = existsSync(SERVER);
  if (!available && process.env.CI)
    throw new Error('rabbitmq-server is missing: apt-get install rabbitmq-server');
  return available;
})();

export interface TestRabbitMq {
  /** `amqp://guest:guest@127.0.0.1:<port>/` */
  url: string;
  /** The broker's port on 127.0.0.1. */
  port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Runs rabbitmqctl against this node (e.g. `add_user`); throws with its output when it fails. */
  ctl(args: string[]): void;
}

export async function startRabbitMq(): Promise<TestRabbitMq> {
  const dir = mkdtempSync(join(testDataRoot(), 'rabbitmq-'));
  const port = await freePort();
  const epmdPort = await freePort();
  const distPort = await freePort();
  mkdirSync(join(dir, 'mnesia'), { recursive: true });
  mkdirSync(join(dir, 'log'), { recursive: true });
  // guest may log in from loopback only, which is where the tests are.
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users.guest = true\n`,
  );
  const env = {
    ...process.env,
    HOME: dir,
    RABBITMQ_NODENAME: `serval${port}@localhost`,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_ENABLED_PLUGINS: '',
    RABBITMQ_DIST_PORT: String(distPort),
    // A private epmd, so no daemon is left on the machine's default port; close() ends it.
    ERL_EPMD_PORT: String(epmdPort),
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}/`;
  let child: ChildProcess | undefined;
  let output = '';
  const start = async () => {
    // Its own process group: the script starts the Erlang VM as a child, and a stop must reach both.
    child = spawn(SERVER, [], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const until = Date.now() + 90_000;
    for (;;) {
      if (child.exitCode !== null)
        throw new Error(`rabbitmq-server exited with ${child.exitCode}:\n${output}`);
      try {
        const connection = await amqp.connect(url);
        await connection.close();
        return;
      } catch {
        if (Date.now() > until) throw new Error(`rabbitmq-server did not start in 90 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      process.kill(-c.pid!, 'SIGKILL');
    });
  };
  await start();
  return {
    url,
    port,
    stop,
    start,
    ctl(args) {
      const r = spawnSync(CTL, ['-n', env.RABBITMQ_NODENAME, ...args], { env, cwd: dir, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`rabbitmqctl ${args[0]}: ${r.stdout}${r.stderr}`);
    },
    async close() {
      await stop();
      // epmd refuses to stop while it still lists the node, which it drops a moment after the VM died.
      for (let i = 0; i < 50; i++) {
        spawnSync('epmd', ['-port', String(epmdPort), '-kill'], { env, stdio: 'ignore' });
        if (spawnSync('epmd', ['-port', String(epmdPort), '-names'], { env, stdio: 'ignore' }).status !== 0)
          break;
        await new Promise((r) => setTimeout(r, 100));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
