// SIGKILL the gateway while an SQS mapping is mid-stream, start it again: every message still reaches the
// function at least once (settled only after success), and the duplicates are counted — by the function and
// by the new gateway's redelivery counter — and reported.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startServalProcess } from '../../bench/serval-process.ts';
import { freePort } from '../support/free-port.ts';
import { functionManifest, testDataRoot } from '../support/serval.ts';
import {
  SQS_CREDENTIALS,
  sqsServerAvailable,
  startSqsServer,
  type TestSqsServer,
} from '../support/sqs-server.ts';
import { createQueue, eventually, mappingDoc, queueDepth, sendAll } from './sqs-support.ts';

const MESSAGES = 1000;
const KILL_AFTER = 300;

const WRITER = `
import { appendFileSync } from 'node:fs';
export const handler = async (event) => {
  await new Promise((r) => setTimeout(r, 20));
  appendFileSync(process.env.OUT, event.Records.map((r) => JSON.parse(r.body).id).join('\\n') + '\\n');
  return {};
};
`;

interface Gateway {
  child: ChildProcess;
  metricsUrl: string;
}

async function startGatewayProcess(manifests: string, dataDir: string): Promise<Gateway> {
  const metricsPort = await freePort();
  const { child } = await startServalProcess(manifests, {
    SERVAL_METRICS_PORT: String(metricsPort),
    SERVAL_DATA_DIR: dataDir,
    AWS_ACCESS_KEY_ID: SQS_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: SQS_CREDENTIALS.secretAccessKey,
  });
  return { child, metricsUrl: `http://127.0.0.1:${metricsPort}/metrics` };
}

function processed(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

describe.skipIf(!sqsServerAvailable)('an SQS mapping through a gateway crash', () => {
  let server: TestSqsServer;
  let sqs: SQSClient;
  let gateway: Gateway | undefined;
  const work = mkdtempSync(join(testDataRoot(), 'esm-crash-'));

  afterAll(async () => {
    gateway?.child.kill('SIGKILL');
    await server?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('loses no message when the gateway is killed mid-batch, and reports the duplicates', async () => {
    server = await startSqsServer();
    sqs = server.client();
    const queue = await createQueue(sqs, 'crash', { visibilitySeconds: 3 });
    const out = join(work, 'processed.txt');
    const manifests = join(work, 'manifests');
    mkdirSync(manifests);
    const fn = functionManifest({
      name: 'writer',
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      inline: { 'index.mjs': WRITER },
      environment: { OUT: out },
    });
    const mapping = mappingDoc('crash', {
      functionName: 'writer',
      source: { sqs: { queueUrl: queue.url } },
      scalingConfig: { maximumConcurrency: 4 },
    });
    writeFileSync(join(manifests, 'all.yaml'), [fn, mapping].map((d) => stringify(d)).join('---\n'));
    const ids = Array.from({ length: MESSAGES }, (_, i) => `m${i}`);
    await sendAll(
      sqs,
      queue,
      ids.map((id) => ({ MessageBody: JSON.stringify({ id }) })),
    );

    gateway = await startGatewayProcess(manifests, join(work, 'data'));
    await eventually(
      () => processed(out).length >= KILL_AFTER || undefined,
      `${KILL_AFTER} processed`,
      120_000,
    );
    gateway.child.kill('SIGKILL');
    await new Promise((r) => gateway!.child.once('exit', r));
    const beforeRestart = processed(out).length;
    expect(beforeRestart).toBeLessThan(MESSAGES); // it really died mid-stream

    gateway = await startGatewayProcess(manifests, join(work, 'data'));
    await eventually(
      async () =>
        (new Set(processed(out)).size === MESSAGES && (await queueDepth(sqs, queue)) === 0) || undefined,
      'every message processed and the queue empty',
      180_000,
    );
    const seen = processed(out);
    const counts = new Map<string, number>();
    for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
    const duplicates = [...counts.values()].reduce((a, n) => a + n - 1, 0);
    expect(ids.every((id) => counts.has(id))).toBe(true);
    const metrics = await (await fetch(gateway.metricsUrl)).text();
    const redelivered = Number(
      /serval_event_source_redelivered_total\{[^}]*mapping="crash"[^}]*\} (\d+)/.exec(metrics)?.[1] ?? 0,
    );
    // Every duplicate the function saw was a redelivery the new gateway counted.
    expect(redelivered).toBeGreaterThanOrEqual(duplicates);
    console.log(
      `esm crash: ${MESSAGES} messages, ${beforeRestart} processed before SIGKILL, ${duplicates} duplicate(s), ` +
        `${redelivered} redelivered after the restart, none lost`,
    );
    gateway.child.kill('SIGTERM');
    await new Promise((r) => gateway!.child.once('exit', r));
    gateway = undefined;
  }, 400_000);
});
