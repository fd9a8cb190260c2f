// The streams-and-schedules dashboard and the lag alert against a real Prometheus scraping a real gateway that
// runs a real Kafka mapping (its function fails, so one partition falls behind) and a schedule: every panel
// query must return data, and the lag alert must go off.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from '../support/free-port.ts';
import { kafkaAvailable, startKafka, type TestKafka } from '../support/kafka.ts';
import { REPO_ROOT, startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import { serverAvailable } from '../support/servers.ts';
import { produce } from './kafka-harness.ts';

const CHART = join(REPO_ROOT, 'charts/serval');
const RULES_FILE = join(CHART, 'rules/serval-streams-alerts.yaml');
const available = kafkaAvailable && serverAvailable(process.env.PROMETHEUS_BIN ?? 'prometheus', 'prometheus');

let kafka: TestKafka;
let serval: TestServal;
let prometheus: ChildProcess;
let promUrl: string;
let work: string;

async function query(expr: string): Promise<Array<{ value: [number, string] }>> {
  const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data?: { result: Array<{ value: [number, string] }> };
  };
  if (body.status !== 'success') throw new Error(`${body.error}\n  in: ${expr}`);
  return body.data!.result;
}
const hasData = async (expr: string) => (await query(expr)).some((s) => Number.isFinite(Number(s.value[1])));
/** Grafana's variables with "All" selected. */
const asGrafana = (expr: string) =>
  expr
    .replaceAll('$__rate_interval', '2m')
    .replaceAll('$__range', '5m')
    .replace(/\$\{?(namespace|function)\}?/g, '.*');

/** expect.poll for hooks, where vitest does not allow it. */
async function waitFor(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ready().catch(() => false))) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  if (!available) return;
  kafka = await startKafka();
  await kafka.createTopic('lagging', 1);
  await produce(
    kafka.bootstrap,
    'lagging',
    Array.from({ length: 300 }, (_, i) => ({ value: `r${i}` })),
  );
  serval = await startServal({
    functions: [
      {
        name: 'stuck',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        inline: { 'index.mjs': 'export const handler = async () => { throw new Error("not today"); };' },
      },
    ],
    documents: [
      {
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'lagging' },
        spec: {
          functionName: 'stuck',
          source: { kafka: { bootstrapServers: [kafka.bootstrap], topic: 'lagging' } },
          startingPosition: 'TRIM_HORIZON',
        },
      },
      {
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'EventSourceMapping',
        metadata: { name: 'minutely' },
        spec: { functionName: 'stuck', source: { schedule: { expression: 'rate(1 minute)' } } },
      },
    ],
  });
  work = mkdtempSync(join(testDataRoot(), 'streams-prometheus-'));
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(work, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES_FILE],
      scrape_configs: [
        { job_name: 'serval', static_configs: [{ targets: [new URL(serval.metricsUrl!).host] }] },
      ],
    }),
  );
  prometheus = spawn(
    process.env.PROMETHEUS_BIN ?? 'prometheus',
    [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  // The first schedule tick comes within a minute. Wait until Prometheus has seen the counters rise, not
  // just be above zero: a tick that fired before the first scrape is in every sample, so rate() over the
  // range is 0 and the lateness quantile is NaN until the next tick, a minute later.
  await waitFor(() => hasData('increase(serval_schedule_ticks_total{outcome="fired"}[5m]) > 0'), 150_000);
  await waitFor(() => hasData('serval_event_source_offset_lag > 0'), 60_000);
}, 330_000);

afterAll(async () => {
  prometheus?.kill();
  await serval?.stop();
  await kafka?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/serval-streams.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const rules = (
  parse(readFileSync(RULES_FILE, 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  }
).groups.flatMap((g) => g.rules);

describe.skipIf(!available)('the streams and schedules dashboard', () => {
  it.each(panels.flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr])))(
    '%s returns data',
    async (_, expr) => {
      await expect.poll(() => hasData(asGrafana(expr!)), { timeout: 20_000 }).toBe(true);
    },
  );

  it.each(dashboard.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, v.definition!]))(
    'variable $%s has values',
    async (_, definition) => {
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(definition)!;
      expect((await query(`group by (${m[2]}) (${asGrafana(m[1]!)})`)).length).toBeGreaterThan(0);
    },
  );
});

describe.skipIf(!available)('the stream alerts', () => {
  it.each(rules.map((r) => [r.alert, r.expr]))('%s: its signal returns data', async (_, expr) => {
    expect(await hasData(expr!.replace(/\s*>\s*[0-9.]+\s*$/, ''))).toBe(true);
  });

  it('the lag alert goes off for the partition a failing batch holds back', async () => {
    await expect
      .poll(
        async () => {
          const body = (await (await fetch(`${promUrl}/api/v1/alerts`)).json()) as {
            data: { alerts: Array<{ labels: Record<string, string> }> };
          };
          return body.data.alerts.map(
            (a) => `${a.labels.alertname} ${a.labels.mapping} ${a.labels.partition}`,
          );
        },
        { timeout: 30_000, interval: 500 },
      )
      .toEqual(['ServalStreamOffsetLagHigh lagging 0']);
  });
});
