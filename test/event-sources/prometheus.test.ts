// The dashboard's event source panels and the backlog alert against a real Prometheus scraping a gateway
// whose NATS mapping falls behind: every panel query returns data and the alert goes off.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import { prometheusAvailable, startPrometheus, type TestPrometheus } from '../support/prometheus.ts';
import { REPO_ROOT, startServal, type TestServal } from '../support/serval.ts';
import { eventually, mappingDoc } from './sqs-support.ts';

const CHART = join(REPO_ROOT, 'charts/serval');
const RULES = join(CHART, 'rules/serval-alerts.yaml');
const RANGE = '1m';

/** 100 ms per message, and each message that asks fails once: a mapping that cannot keep up. */
const SLOW = `
export const handler = async (event) => {
  await new Promise((r) => setTimeout(r, event.sleepMs ?? 100));
  const failures = event.Records.filter((r) => {
    const data = JSON.parse(Buffer.from(r.nats.data, 'base64').toString());
    return data.failOnce && r.nats.deliveryCount === 1;
  });
  return { batchItemFailures: failures.map((r) => ({ itemIdentifier: String(r.nats.sequence) })) };
};
`;

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/serval.json'), 'utf8')) as {
  panels: Panel[];
};
const targets = dashboard.panels
  .flatMap((p) => (p.targets ?? []).map((t, i) => ({ panel: p.title, i, expr: t.expr })))
  .filter((t) => t.expr.includes('serval_event_source_'));
const rules = (
  parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> }
).groups
  .flatMap((g) => g.rules)
  .filter((r) => r.expr.includes('serval_event_source_'));

const grafana = (expr: string) =>
  expr.replaceAll('$__rate_interval', RANGE).replace(/\$\{?(namespace|function|job)\}?/g, '.*');
const withoutThresholds = (expr: string) =>
  expr.replace(/\s*(?:>=|<=|==|!=|>|<)\s*[0-9.]+(?:e[+-]?\d+)?/g, '');

describe.skipIf(!natsAvailable || !prometheusAvailable)(
  'event source panels and alerts on a real Prometheus',
  () => {
    let nats: TestNats;
    let publisher: NatsConnection;
    let serval: TestServal;
    let prometheus: TestPrometheus;

    beforeAll(async () => {
      nats = await startNats();
      publisher = await connect({ servers: nats.url });
      await (await jetstreamManager(publisher)).streams.add({ name: 'WORK', subjects: ['work.>'] });
      serval = await startServal({
        functions: [
          {
            name: 'slow',
            runtime: 'nodejs24.x',
            handler: 'index.handler',
            inline: { 'index.mjs': SLOW },
            spec: { reservedConcurrency: 1 },
          },
        ],
        documents: [
          mappingDoc('work', {
            functionName: 'slow',
            source: { nats: { url: nats.url, subject: 'work.>', stream: 'WORK' } },
            batchSize: 1,
            maximumBatchingWindowSeconds: 0,
            functionResponseTypes: ['ReportBatchItemFailures'],
          }),
        ],
      });
      prometheus = await startPrometheus(serval.metricsUrl!, RULES);
      // About 60 messages a second for 12 s against a function that takes 10 a second; a synchronous caller
      // now and then holds its one unit of concurrency, so batches are throttled too.
      const js = jetstream(publisher);
      // The mapping keeps the unit busy, so the call is repeated until it wins it between two batches.
      const holdTheUnit = async () => {
        for (let tries = 0; tries < 500; tries++) {
          if ((await serval.invoke('slow', { Records: [], sleepMs: 1500 })).status === 200) return;
        }
      };
      const until = Date.now() + 12_000;
      for (let i = 0; Date.now() < until; i++) {
        await js.publish('work.item', JSON.stringify({ i, failOnce: i % 10 === 0 }));
        // Holds the function's one unit for 1.5 s: the mapping's batches meanwhile are throttled.
        if (i % 200 === 100) void holdTheUnit();
        await new Promise((r) => setTimeout(r, 15));
      }
    }, 180_000);

    afterAll(async () => {
      await prometheus?.close();
      await serval?.stop();
      await publisher?.close();
      await nats?.stop();
    });

    it('has event source panels', () => {
      expect(targets.length).toBeGreaterThanOrEqual(6);
    });

    it.each(targets.map((t) => [`${t.panel} [${t.i}]`, t.expr]))('%s returns data', async (_, expr) => {
      await eventually(
        async () => (await prometheus.returnsData(grafana(expr))) || undefined,
        grafana(expr),
        20_000,
      );
    });

    it.each(rules.map((r) => [r.alert, r.expr]))('%s: its signal returns data', async (_, expr) => {
      expect(await prometheus.returnsData(withoutThresholds(expr)), withoutThresholds(expr)).toBe(true);
    });

    it('the growing backlog raises ServalEventSourceBacklogGrowing', async () => {
      await eventually(
        async () =>
          (await prometheus.alerts()).some(
            (a) => a.labels.alertname === 'ServalEventSourceBacklogGrowing' && a.labels.mapping === 'work',
          ) || undefined,
        'the backlog alert',
        30_000,
      );
    });
  },
);
