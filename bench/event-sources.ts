// Event source mappings for docs/benchmarks.md: how many messages a second an SQS (ElasticMQ) and a NATS
// JetStream mapping deliver to a no-op function at batch size 10, and the send-to-invoke latency at batching
// window 0. Brokers are real and on this machine; the gateway runs as its own process.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { stringify } from 'yaml';
import { createQueue } from '../test/event-sources/sqs-support.ts';
import { freePort } from '../test/support/free-port.ts';
import { startNats } from '../test/support/nats.ts';
import { functionManifest, testDataRoot } from '../test/support/serval.ts';
import { SQS_CREDENTIALS, startSqsServer } from '../test/support/sqs-server.ts';
import { cpuByRole, cpuTree, type ProcessCpu } from './load-tools.ts';
import { ROOT, startServalProcess } from './serval-process.ts';

const MESSAGES = Number(process.env.BENCH_ESM_MESSAGES ?? 20000);
const LATENCY_SAMPLES = Number(process.env.BENCH_ESM_LATENCY_SAMPLES ?? 300);
/** Checkouts to run the gateway from, side by side in each round (an A/B against an older build). */
const BUILDS = (process.env.BENCH_ESM_BUILDS ?? ROOT).split(',').map((b) => resolve(b));
const ROUNDS = Number(process.env.BENCH_ESM_ROUNDS ?? 1);
/** A directory to write the gateway's CPU profiles to (node --cpu-prof). */
const CPU_PROF = process.env.BENCH_ESM_CPU_PROF;

/** A no-op function; the latency one also appends each record's send-to-invoke time to a file. */
const NOOP = 'export const handler = async () => ({});';
const LATENCY = `
import { appendFileSync } from 'node:fs';
export const handler = async (event) => {
  const now = Date.now();
  const sent = event.Records.map((r) => Number(r.attributes?.SentTimestamp ?? r.nats?.timestamp));
  appendFileSync(process.env.OUT, sent.map((s) => now - s).join('\\n') + '\\n');
  return {};
};
`;

interface Source {
  kind: 'sqs' | 'nats';
  /** `spec.source` of a mapping reading the current queue or subject. */
  current(): Record<string, unknown>;
  /** Moves on to a fresh queue or subject, so a run starts with nothing left from the last one. */
  fresh(): Promise<void>;
  /** Sends `count` messages as fast as the broker takes them. */
  fill(count: number): Promise<void>;
  sendOne(): Promise<void>;
  close(): Promise<void>;
}

interface Throughput {
  rate: number;
  /** CPU ms per 1,000 messages delivered, by process: gateway, function environments, broker. */
  cpu: { gateway: number; environments: number; broker: number };
  /** API calls to the broker per 1,000 messages (SQS; NATS counts none). */
  requests: number;
  /** The most environments the function had at once. */
  environments: number;
  /** 1-minute load average at the start and the end of the run. */
  load: [number, number];
}

interface Row extends Throughput {
  kind: string;
  build: string;
  round: number;
  p50: number;
  p99: number;
}

function pct(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Messages invoked so far and the function's environments now, from the gateway's /metrics. */
async function progress(
  metricsUrl: string,
): Promise<{ invoked: number; environments: number; requests: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const m = /serval_event_source_messages_total\{[^}]*mapping="bench"[^}]*outcome="invoked"\} (\d+)/.exec(
    text,
  );
  let environments = 0;
  for (const e of text.matchAll(/^serval_environments\{[^}]*function="sink"[^}]*\} (\d+)/gm))
    environments += Number(e[1]);
  let requests = 0;
  for (const r of text.matchAll(
    /^serval_event_source_broker_requests_total\{[^}]*mapping="bench"[^}]*\} (\d+)/gm,
  ))
    requests += Number(r[1]);
  return { invoked: Number(m?.[1] ?? 0), environments, requests };
}

function roleOf(p: ProcessCpu): string {
  if (p.cmdline.includes('elasticmq') || p.cmdline.includes('nats-server')) return 'broker';
  if (p.cmdline.includes('bin/serval.mjs')) return 'gateway';
  return p.depth === 0 ? 'bench' : 'environments';
}

async function gatewayFor(source: Source, code: string, work: string, out: string, build = ROOT) {
  const dir = join(work, `manifests-${source.kind}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir, { recursive: true });
  const fn = functionManifest({
    name: 'sink',
    runtime: 'nodejs24.x',
    handler: 'index.handler',
    inline: { 'index.mjs': code },
    environment: { OUT: out },
  });
  const mapping = {
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'EventSourceMapping',
    metadata: { name: 'bench' },
    spec: {
      functionName: 'sink',
      batchSize: 10,
      maximumBatchingWindowSeconds: 0,
      source: source.current(),
      // BENCH_ESM_MAX_CONCURRENCY caps the poll loops (SQS only), to compare the scaling with a fixed level.
      ...(process.env.BENCH_ESM_MAX_CONCURRENCY && source.kind === 'sqs'
        ? { scalingConfig: { maximumConcurrency: Number(process.env.BENCH_ESM_MAX_CONCURRENCY) } }
        : {}),
    },
  };
  writeFileSync(join(dir, 'bench.yaml'), [fn, mapping].map((d) => stringify(d)).join('---\n'));
  const metricsPort = await freePort();
  const { child } = await startServalProcess(
    dir,
    {
      SERVAL_METRICS_PORT: String(metricsPort),
      SERVAL_DATA_DIR: join(dir, 'data'),
      // The function writes to a file of the test's on the host.
      SERVAL_LOCAL_ISOLATION: 'off',
      AWS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
      ...(CPU_PROF ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${CPU_PROF}` } : {}),
    },
    build,
  );
  return { child, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/**
 * Messages a second from the first invocation to the last, with a full backlog waiting, and the CPU the
 * processes spent meanwhile (less noisy than the rate on a shared machine).
 */
async function throughput(source: Source, work: string, build: string): Promise<Throughput> {
  await source.fill(MESSAGES);
  const loadStart = loadavg()[0]!;
  const { child, metricsUrl } = await gatewayFor(source, NOOP, work, join(work, 'unused'), build);
  try {
    let first: { at: number; invoked: number; requests: number; cpu: Map<number, ProcessCpu> } | undefined;
    let environments = 0;
    const until = Date.now() + 600_000;
    for (;;) {
      const now = await progress(metricsUrl).catch(() => ({ invoked: 0, environments: 0, requests: 0 }));
      const n = now.invoked;
      environments = Math.max(environments, now.environments);
      if (n > 0 && first === undefined)
        first = { at: performance.now(), invoked: n, requests: now.requests, cpu: cpuTree(process.pid) };
      if (first && n >= MESSAGES) {
        const seconds = (performance.now() - first.at) / 1000;
        const used = cpuByRole(first.cpu, cpuTree(process.pid), roleOf);
        const perThousand = (role: string) => ((used.get(role) ?? 0) * 1e6) / (n - first!.invoked);
        return {
          rate: (n - first.invoked) / seconds,
          cpu: {
            gateway: perThousand('gateway'),
            environments: perThousand('environments'),
            broker: perThousand('broker'),
          },
          requests: ((now.requests - first.requests) * 1000) / (n - first.invoked),
          environments,
          load: [loadStart, loadavg()[0]!],
        };
      }
      if (Date.now() > until) throw new Error(`${source.kind}: only ${n} of ${MESSAGES} delivered in 10 min`);
      // Not more often: rendering /metrics costs the gateway CPU the mapping would otherwise use.
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await stop(child);
  }
}

/** Send-to-invoke times of messages sent one at a time to an idle mapping (window 0). */
async function latency(source: Source, work: string, build: string): Promise<number[]> {
  const out = join(work, `latency-${source.kind}-${Math.random().toString(36).slice(2)}.txt`);
  const { child } = await gatewayFor(source, LATENCY, work, out, build);
  const read = () =>
    existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter(Boolean).map(Number) : [];
  try {
    // A first message warms the function's environment; it is not counted.
    await source.sendOne();
    while (read().length < 1) await new Promise((r) => setTimeout(r, 50));
    writeFileSync(out, '');
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      await source.sendOne();
      const want = i + 1;
      const until = Date.now() + 10_000;
      while (read().length < want && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 20));
    }
    return read();
  } finally {
    await stop(child);
  }
}

async function sqsSource(): Promise<Source> {
  // ElasticMQ keeps messages in memory unless BENCH_ESM_SQS_STORAGE=h2 (the tests' store, kept across restarts).
  const server = await startSqsServer({ persistent: process.env.BENCH_ESM_SQS_STORAGE === 'h2' });
  const sqs: SQSClient = server.client();
  let n = 0;
  let queue = await createQueue(sqs, `bench-${n}`, { visibilitySeconds: 30 });
  // A loaded machine makes ElasticMQ drop a connection now and then; the bench retries rather than dies.
  const send = async (entries: Array<{ Id: string; MessageBody: string }>) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: entries }));
      } catch (err) {
        if (attempt >= 10) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  return {
    kind: 'sqs',
    current: () => ({ sqs: { queueUrl: queue.url } }),
    async fresh() {
      queue = await createQueue(sqs, `bench-${++n}`, { visibilitySeconds: 30 });
    },
    async fill(count) {
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < count) {
            const base = next;
            next += 10;
            const size = Math.min(10, count - base);
            await send(
              Array.from({ length: size }, (_, i) => ({ Id: String(i), MessageBody: `{"n":${base + i}}` })),
            );
          }
        }),
      );
    },
    async sendOne() {
      await send([{ Id: '0', MessageBody: '{"one":true}' }]);
    },
    async close() {
      sqs.destroy();
      await server.close();
    },
  };
}

async function natsSource(): Promise<Source> {
  const nats = await startNats();
  const nc = await connect({ servers: nats.url });
  await (await jetstreamManager(nc)).streams.add({ name: 'BENCH', subjects: ['bench.>'] });
  const js = jetstream(nc);
  let subject = 0;
  return {
    kind: 'nats',
    current: () => ({
      nats: { url: nats.url, subject: `bench.${subject}`, stream: 'BENCH', consumer: `bench-${subject}` },
    }),
    async fresh() {
      subject++;
    },
    async fill(count) {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        pending.push(js.publish(`bench.${subject}`, `{"n":${i}}`));
        if (pending.length >= 256) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
    },
    async sendOne() {
      await js.publish(`bench.${subject}`, '{"one":true}');
    },
    async close() {
      await nc.close();
      await nats.stop();
    },
  };
}

/** Each round runs every build back to back against the same broker, each on a fresh queue or subject. */
async function measure(make: () => Promise<Source>, work: string): Promise<Row[]> {
  const source = await make();
  const rows: Row[] = [];
  try {
    for (let round = 1; round <= ROUNDS; round++)
      for (const build of BUILDS) {
        await source.fresh();
        const result = await throughput(source, work, build);
        await source.fresh();
        const samples = await latency(source, work, build);
        const label = build === ROOT ? 'this' : basename(build);
        const row: Row = {
          kind: source.kind,
          build: label,
          round,
          ...result,
          p50: pct(samples, 50),
          p99: pct(samples, 99),
        };
        rows.push(row);
        // Each run as it ends: a long A/B on a busy machine shows its progress.
        process.stderr.write(`bench/event-sources: ${JSON.stringify(row)}\n`);
      }
  } finally {
    await source.close();
  }
  return rows;
}

export async function eventSourcesBench(): Promise<string> {
  const work = mkdtempSync(join(testDataRoot(), 'bench-esm-'));
  const rows: Row[] = [];
  try {
    // BENCH_ESM_SOURCES=sqs (or nats) measures one source alone.
    const only = process.env.BENCH_ESM_SOURCES?.split(',');
    const sources = { sqs: sqsSource, nats: natsSource };
    for (const [kind, make] of Object.entries(sources))
      if (!only || only.includes(kind)) rows.push(...(await measure(make, work)));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const section = `## Event source mappings (${MESSAGES} messages per source, batch size 10)

A no-op Node function fed by one mapping. "Delivered" is messages per second from the first invocation to the
last, with the whole backlog waiting in the broker (ElasticMQ for SQS, nats-server for JetStream). "Send to
invoke" is ${LATENCY_SAMPLES} messages sent one at a time to an idle mapping at batching window 0, from the
broker's timestamp to the function's clock.

| Source | Build | Round | Delivered | Send to invoke p50 | p99 | CPU ms / 1,000 msgs: gateway | environments | broker | Broker calls / 1,000 msgs | Environments | Load (1 min) |
|---|---|---|---|---|---|---|---|---|---|---|---|
${rows.map((r) => `| ${r.kind} | ${r.build} | ${r.round} | ${r.rate.toFixed(0)}/s | ${r.p50.toFixed(0)} ms | ${r.p99.toFixed(0)} ms | ${r.cpu.gateway.toFixed(0)} | ${r.cpu.environments.toFixed(0)} | ${r.cpu.broker.toFixed(0)} | ${r.requests.toFixed(0)} | ${r.environments} | ${r.load.map((l) => l.toFixed(1)).join('–')} |`).join('\n')}

Targets: at least 2,000 messages/s at batch size 10, and send-to-invoke p50 under 50 ms at window 0.
`;
  return section;
}

if (import.meta.main) process.stdout.write(await eventSourcesBench());
