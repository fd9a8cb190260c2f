// Starts a real Apache Kafka broker in KRaft combined mode (broker and controller in one JVM) from the jars
// scripts/kafka-jars.sh caches, on free loopback ports with its log dir in a directory of the test's.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { freePort } from './free-port.ts';
import { testDataRoot } from './serval.ts';

/** Keep in step with scripts/kafka-jars.sh. */
const KAFKA_VERSION = process.env.SERVAL_KAFKA_VERSION ?? '4.2.1';
const JARS = join(process.env.SERVAL_CACHE ?? join(homedir(), '.cache', 'serval'), `kafka-${KAFKA_VERSION}`);

function available(): boolean {
  const java = spawnSync('java', ['-version']).status === 0;
  const jars = existsSync(join(JARS, '.complete'));
  if ((!java || !jars) && process.env.CI) {
    throw new Error(
      java
        ? `Kafka jars missing in ${JARS}: run bash scripts/kafka-jars.sh`
        : 'java is missing: apt-get install openjdk-17-jre-headless',
    );
  }
  return java && jars;
}

/** Whether a broker can be started here; in CI it must (.ci/run fetches the jars). */
export const kafkaAvailable = available();

export interface TestKafka {
  /** `127.0.0.1:<port>`. */
  bootstrap: string;
  /** Creates a topic and waits until its partitions have leaders. */
  createTopic(topic: string, partitions: number, configs?: Record<string, string>): Promise<void>;
  /** Stops the JVM (SIGTERM, or SIGKILL with `kill`), keeping its log dir and ports for `start`. */
  stop(kill?: boolean): Promise<void>;
  /** Starts it again on the same ports and data after `stop`. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
}

const HEAP = ['-Xms64m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];

export async function startKafka(): Promise<TestKafka> {
  const dir = mkdtempSync(join(testDataRoot(), 'kafka-'));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const properties = join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      // One broker: every internal topic has one replica, and few partitions so it is created quickly.
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'group.initial.rebalance.delay.ms=0',
      // Unknown topics must stay unknown: a mapping for one is bad input, not a new topic.
      'auto.create.topics.enable=false',
      // Room for a record larger than Lambda's 6 MB invoke payload once base64-encoded in the event.
      'message.max.bytes=8388608',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'log4j2.properties'),
    [
      'appender.err.type=Console',
      'appender.err.name=err',
      'appender.err.target=SYSTEM_ERR',
      'appender.err.layout.type=PatternLayout',
      'appender.err.layout.pattern=[kafka] %p %c{1} %m%n',
      'rootLogger.level=WARN',
      'rootLogger.appenderRef.err.ref=err',
    ].join('\n'),
  );
  const classpath = `${JARS}/*`;
  const format = spawnSync(
    'java',
    [
      ...HEAP,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      'c2VydmFsLXRlc3Qta2Fma2E',
      '-c',
      properties,
    ],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) throw new Error(`kafka storage format failed:\n${format.stderr}${format.stdout}`);

  let child: ChildProcess | undefined;
  let output = '';
  const bootstrap = `127.0.0.1:${port}`;

  async function start(): Promise<void> {
    output = '';
    child = spawn(
      'java',
      [
        ...HEAP,
        `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
        '-cp',
        classpath,
        'kafka.Kafka',
        properties,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => {
      output = (output + d).slice(-20_000);
    });
    child.stderr?.on('data', (d: Buffer) => {
      output = (output + d).slice(-20_000);
    });
    const exited = new Promise<never>((_, reject) =>
      child!.once('exit', (code) => reject(new Error(`kafka exited with ${code}:\n${output}`))),
    );
    exited.catch(() => {});
    await Promise.race([waitForBroker(bootstrap, 60_000), exited]);
  }

  async function stop(kill = false): Promise<void> {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(kill ? 'SIGKILL' : 'SIGTERM');
    });
  }

  await start();
  return {
    bootstrap,
    start,
    stop,
    async createTopic(topic, partitions, configs = {}) {
      const admin = new Admin({ clientId: 'serval-test-admin', bootstrapBrokers: [bootstrap] });
      try {
        await admin.createTopics({
          topics: [topic],
          partitions,
          replicas: 1,
          configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
        });
        await poll(async () => {
          const m = await admin.metadata({ topics: [topic], forceUpdate: true });
          const t = m.topics.get(topic);
          return (
            t !== undefined && t.partitionsCount === partitions && t.partitions.every((p) => p.leader >= 0)
          );
        }, 30_000);
      } finally {
        await admin.close();
      }
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForBroker(bootstrap: string, timeoutMs: number): Promise<void> {
  const admin = new Admin({ clientId: 'serval-test-probe', bootstrapBrokers: [bootstrap], retries: 0 });
  try {
    await poll(async () => {
      try {
        const m = await admin.metadata({ topics: [], forceUpdate: true });
        return m.brokers.size > 0;
      } catch {
        return false;
      }
    }, timeoutMs);
  } finally {
    await admin.close().catch(() => {});
  }
}

async function poll(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
