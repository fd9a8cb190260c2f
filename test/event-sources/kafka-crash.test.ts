// SIGKILL the gateway (`serval dev`, a real process) in the middle of a Kafka mapping's batches and start it
// again: every record reaches the function at least once, and the duplicates (records after the last commit,
// delivered again) are counted and reported.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { kafkaAvailable, startKafka, type TestKafka } from '../support/kafka.ts';
import { REPO_ROOT, testDataRoot } from '../support/serval.ts';
import { eventually, produce } from './kafka-harness.ts';

const RECORDS = 3000;
let kafka: TestKafka;
let work: string;

/** Every gateway a test started, so a failing wait never leaves one running. */
const started: ChildProcess[] = [];

function serval(): ChildProcess {
  const child = spawn(
    process.execPath,
    ['bin/serval.mjs', 'dev', join(work, 'manifests'), '--port', '0', '--data-dir', join(work, 'data')],
    // The function appends to a host file: its directory is shared into the sandbox.
    { cwd: REPO_ROOT, stdio: 'ignore', env: { ...process.env, SERVAL_LOCAL_SHARED_DIRS: join(work, 'out') } },
  );
  started.push(child);
  return child;
}

const delivered = () => {
  const file = join(work, 'out', 'seen.txt');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
};

describe.skipIf(!kafkaAvailable)('a gateway killed mid-batch', () => {
  beforeAll(async () => {
    kafka = await startKafka();
    await kafka.createTopic('crash', 2);
    await produce(
      kafka.bootstrap,
      'crash',
      Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i % 20}`, value: String(i) })),
    );
    work = mkdtempSync(join(testDataRoot(), 'kafka-crash-'));
    mkdirSync(join(work, 'manifests'));
    mkdirSync(join(work, 'out'));
    // The function appends every record it is given to a file, slowly, so the kill lands mid-batch.
    const handler = `import { appendFileSync } from 'node:fs';
export const handler = async (event) => {
  const lines = Object.values(event.records).flat().map((r) => r.partition + ':' + r.offset + '\\n').join('');
  await new Promise((r) => setTimeout(r, 30));
  appendFileSync(process.env.SEEN, lines);
};`;
    const docs = [
      {
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Function',
        metadata: { name: 'recorder' },
        spec: {
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          environment: { SEEN: join(work, 'out', 'seen.txt') },
          code: { inline: { 'index.mjs': handler } },
        },
      },
      {
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'crash' },
        spec: {
          functionName: 'recorder',
          source: { kafka: { bootstrapServers: [kafka.bootstrap], topic: 'crash' } },
          startingPosition: 'TRIM_HORIZON',
          batchSize: 50,
          maximumBatchingWindowSeconds: 0,
        },
      },
    ];
    writeFileSync(join(work, 'manifests', 'crash.yaml'), docs.map((d) => stringify(d)).join('---\n'));
  }, 120_000);
  afterAll(async () => {
    for (const child of started)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await kafka?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('loses no record across a SIGKILL and a restart, and counts the duplicates', async () => {
    const first = serval();
    await eventually(() => delivered().length >= 500, 90_000, 'the first deliveries');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = delivered().length;
    expect(atKill).toBeLessThan(RECORDS);

    const second = serval();
    try {
      await eventually(() => new Set(delivered()).size >= RECORDS, 120_000, 'every record after the restart');
    } finally {
      second.kill('SIGTERM');
      await new Promise((r) => second.once('exit', r));
    }
    const all = delivered();
    const distinct = new Set(all);
    expect(distinct.size).toBe(RECORDS);
    for (let p = 0; p < 2; p++) {
      // Each partition's offsets are all there, none missing in between.
      const offsets = [...distinct].filter((id) => id.startsWith(`${p}:`)).map((id) => Number(id.slice(2)));
      expect(Math.max(...offsets) + 1).toBe(offsets.length);
    }
    console.log(
      `crash: ${all.length} deliveries of ${RECORDS} records, ${all.length - distinct.size} duplicates`,
    );
  }, 300_000);
});
