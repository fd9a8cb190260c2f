// Starts a real ElasticMQ (the SQS-compatible server; scripts/install-elasticmq.sh caches its jars) on a free
// loopback port, with its messages in an H2 file so a restart keeps them, and hands out SDK v3 clients.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { freePort } from './free-port.ts';
import { testDataRoot } from './serval.ts';

const LIB = join(process.env.SERVAL_CACHE ?? join(homedir(), '.cache/serval'), 'elasticmq', 'lib');

/** Whether ElasticMQ and a JVM are installed; in CI they must be (.ci/run installs them). */
export const sqsServerAvailable = (() => {
  const available = existsSync(join(LIB, '.complete')) && spawnSync('java', ['-version']).status === 0;
  if (!available && process.env.CI) {
    throw new Error('ElasticMQ is missing: run scripts/install-elasticmq.sh (needs java and mvn)');
  }
  return available;
})();

/** Static test credentials: ElasticMQ accepts any, and the gateway reads them from the environment. */
export const SQS_CREDENTIALS = { accessKeyId: 'serval-test', secretAccessKey: 'serval-test' };

export interface TestSqsServer {
  endpoint: string;
  client(): SQSClient;
  /** Stops the server; `restart` starts it again on the same port with the same stored messages. */
  stop(): Promise<void>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** `persistent: false` keeps messages in memory (ElasticMQ's default), for a benchmark of the gateway's side. */
export async function startSqsServer({ persistent = true } = {}): Promise<TestSqsServer> {
  const dir = mkdtempSync(join(testDataRoot(), 'elasticmq-'));
  const port = await freePort();
  const config = join(dir, 'elasticmq.conf');
  writeFileSync(
    config,
    `include classpath("application.conf")
node-address { protocol = http, host = "127.0.0.1", port = ${port}, context-path = "" }
rest-sqs { enabled = true, bind-port = ${port}, bind-hostname = "127.0.0.1", sqs-limits = strict }
rest-stats { enabled = false }
aws { region = "local", accountId = "000000000000" }
${
  persistent
    ? `messages-storage { enabled = true, uri = "jdbc:h2:${join(dir, 'messages')}" }
queues-storage { enabled = true, path = "${join(dir, 'queues.conf')}" }
`
    : ''
}`,
  );
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'java',
      ['-Xss512k', `-Dconfig.file=${config}`, '-cp', `${LIB}/*`, 'org.elasticmq.server.Main'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    await waitUntilServing(child, endpoint);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    endpoint,
    client: () => new SQSClient({ endpoint, region: 'local', credentials: SQS_CREDENTIALS }),
    stop,
    restart: start,
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntilServing(child: ChildProcess, endpoint: string): Promise<void> {
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`ElasticMQ exited with ${child.exitCode}:\n${output}`);
    try {
      const res = await fetch(`${endpoint}/?Action=ListQueues`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill('SIGKILL');
  throw new Error(`ElasticMQ did not start within 150 s:\n${output}`);
}
