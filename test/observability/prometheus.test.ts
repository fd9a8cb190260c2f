// The dashboard and the alert rules in charts/serval against a real Prometheus (the Debian `prometheus`
// package) scraping a real gateway under load: every PromQL expression must return data, so a misspelt
// metric or label fails here, and the error-rate and throttling alerts must actually go off.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { LineageKey, RECURSION_LIMIT } from '../../gateway/src/invocation/lineage.ts';
import { freePort } from '../support/free-port.ts';
import { fixture, REPO_ROOT, startServal, type TestServal } from '../support/serval.ts';
import { serverAvailable } from '../support/servers.ts';

const CHART = join(REPO_ROOT, 'charts/serval');
const RULES_FILE = join(CHART, 'rules/serval-alerts.yaml');
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? 'prometheus';
const prometheusAvailable = serverAvailable(PROMETHEUS, 'prometheus');
/** Wide enough that every range in a query covers the whole load. */
const RANGE = '2m';

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

let serval: TestServal;
let prometheus: ChildProcess;
let promUrl: string;
let work: string;
let prometheusLog = '';
/** A trace header saying `ok` already ran RECURSION_LIMIT times in its chain: the next run is a loop. */
let loopingTrace: string;

beforeAll(async () => {
  if (!prometheusAvailable) return;
  work = mkdtempSync(join(tmpdir(), 'serval-prometheus-'));
  const dataDir = join(work, 'serval');
  serval = await startServal({
    config: { dataDir },
    functions: [
      { name: 'ok', runtime: 'nodejs24.x', handler: 'index.handler', codePath: fixture('node', 'echo-esm') },
      { name: 'fails', runtime: 'nodejs24.x', handler: 'index.handler', codePath: fixture('node', 'throws') },
      {
        name: 'limited',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'sleepy'),
        spec: { reservedConcurrency: 2 },
      },
    ],
  });
  // The gateway's own lineage key signs the count, as a chain of Serval's own calls would have carried it.
  const lineage = LineageKey.open(dataDir, undefined).record(undefined, 'default/ok', RECURSION_LIMIT);
  loopingTrace = `Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=${lineage}`;
  const port = await freePort();
  promUrl = `http://127.0.0.1:${port}`;
  const target = new URL(serval.metricsUrl!).host;
  writeFileSync(
    join(work, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [RULES_FILE],
      scrape_configs: [{ job_name: 'serval', static_configs: [{ targets: [target] }] }],
    }),
  );
  prometheus = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stderr!.on('data', (d: Buffer) => {
    prometheusLog += d;
  });
  await waitFor(
    () =>
      fetch(`${promUrl}/-/ready`).then(
        (r) => r.status === 200,
        () => false,
      ),
    30_000,
  );
  // Prometheus takes a few seconds to start scraping a new target; load before that would be invisible.
  await waitFor(async () => (await query('up{job="serval"} == 1')).length === 1, 30_000);
  await generateLoad();
}, 120_000);

afterAll(async () => {
  prometheus?.kill();
  await serval?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * Successes, function errors, throttles and cold starts, spread over several scrapes so that rates see them:
 * one more concurrent caller of `ok` each round makes it start one more environment each round.
 */
async function generateLoad(): Promise<void> {
  const until = Date.now() + 8000;
  let sync = 0;
  for (let round = 1; Date.now() < until; round++) {
    const calls = [
      ...Array.from({ length: Math.min(round, 12) }, () => serval.invoke('ok', { round })),
      serval.invoke('fails', {}),
      // Six callers against a reservation of two: some are throttled every round.
      ...Array.from({ length: 6 }, () => serval.invoke('limited', { ms: 150 })),
    ];
    // A recursive loop, stopped before it runs (serval_recursive_invocations_dropped_total).
    const loop = await serval.invoke('ok', {}, { 'X-Amzn-Trace-Id': loopingTrace });
    if (loop.status !== 400 || !loop.text.includes('Recursive invocation detected'))
      throw new Error(`the looping call was not stopped: HTTP ${loop.status} ${loop.text}`);
    const results = await Promise.all(calls);
    sync += results.filter((r) => r.status === 200).length;
    const unexpected = results.filter((r) => r.status !== 200 && r.status !== 429);
    if (unexpected.length > 0)
      throw new Error(`load failed: HTTP ${unexpected[0]!.status} ${unexpected[0]!.text}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  // Wait until Prometheus has scraped everything the gateway counted.
  await waitFor(
    async () => Number((await query('sum(serval_invocations_total)'))[0]?.value[1] ?? 0) >= sync,
    15_000,
  );
}

/** expect.poll for hooks, where vitest does not allow it. */
async function waitFor(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > until) throw new Error(`timed out; Prometheus said:\n${prometheusLog}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function query(expr: string): Promise<Sample[]> {
  const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${body.error}\n  in: ${expr}`);
  return body.data!.result;
}

/** A query returns data when it yields at least one sample with a real number (not NaN, not ±Inf). */
async function returnsData(expr: string): Promise<boolean> {
  const result = await query(expr);
  return result.some((s) => Number.isFinite(Number(s.value[1])));
}

/** Grafana's variables, as the dashboard would send them with "All" selected. */
function grafanaQuery(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', RANGE)
    .replaceAll('$__interval', RANGE)
    .replaceAll('$__range', RANGE)
    .replace(/\$\{?(namespace|function|job)\}?/g, '.*');
}

/** `label_values(metric, label)` is Grafana's, not PromQL: ask for the label's values the same way. */
function variableQuery(definition: string): string {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(definition.trim());
  if (!m) throw new Error(`unexpected variable query: ${definition}`);
  return `group by (${m[2]}) (${grafanaQuery(m[1]!)})`;
}

/** An alert's signal: its expression with every `<op> <number>` threshold removed. */
function withoutThresholds(expr: string): string {
  return expr.replace(/\s*(?:>=|<=|==|!=|>|<)\s*[0-9.]+(?:e[+-]?\d+)?/g, '');
}

interface Panel {
  title: string;
  type: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}
const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/serval.json'), 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; definition?: string }> };
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.type !== 'row');
/** Event source series need a broker and a mapping: test/event-sources/prometheus.test.ts checks those. */
const needsMapping = (expr: string) => expr.includes('serval_event_source_');
/** Deployment series need a deployment: test/deployments/prometheus.test.ts checks those. */
const needsDeployment = (expr: string) => expr.includes('serval_deployment');
const targets = panels
  .flatMap((p) => (p.targets ?? []).map((t, i) => ({ panel: p.title, i, expr: t.expr })))
  .filter((t) => !needsMapping(t.expr) && !needsDeployment(t.expr));
const rules = (
  parse(readFileSync(RULES_FILE, 'utf8')) as {
    groups: Array<{ rules: Array<{ alert?: string; record?: string; expr: string }> }>;
  }
).groups.flatMap((g) => g.rules);

describe.skipIf(!prometheusAvailable)('the Grafana dashboard', () => {
  it('has panels, and every panel has a query', () => {
    expect(panels.length).toBeGreaterThan(20);
    for (const p of panels) expect(p.targets?.length, p.title).toBeGreaterThan(0);
  });

  it.each(targets.map((t) => [`${t.panel} [${t.i}]`, t.expr]))('%s returns data', async (_, expr) => {
    expect(await returnsData(grafanaQuery(expr)), grafanaQuery(expr)).toBe(true);
  });

  it.each(dashboard.templating.list.filter((v) => v.type === 'query').map((v) => [v.name, v.definition!]))(
    'variable $%s has values',
    async (_, definition) => {
      expect((await query(variableQuery(definition))).length).toBeGreaterThan(0);
    },
  );
});

describe.skipIf(!prometheusAvailable)('the alert rules', () => {
  it('are all loaded, and Prometheus evaluates each without error', async () => {
    await expect
      .poll(async () => {
        const res = await fetch(`${promUrl}/api/v1/rules`);
        const body = (await res.json()) as {
          data: { groups: Array<{ rules: Array<{ name: string; health: string; lastError?: string }> }> };
        };
        return body.data.groups
          .flatMap((g) => g.rules)
          .map((r) => ({ name: r.name, health: r.health, lastError: r.lastError || undefined }))
          .sort((a, b) => a.name.localeCompare(b.name));
      })
      .toEqual(
        rules
          .map((r) => ({ name: r.alert ?? r.record ?? '', health: 'ok', lastError: undefined }))
          .sort((a, b) => a.name.localeCompare(b.name)),
      );
  });

  it.each(rules.filter((r) => !needsMapping(r.expr)).map((r) => [r.alert ?? r.record, r.expr]))(
    '%s: its signal returns data',
    async (_, expr) => {
      expect(await returnsData(withoutThresholds(expr!)), withoutThresholds(expr!)).toBe(true);
    },
  );

  it('error rate, throttling and loop alerts go off for the functions that fail, are throttled and loop', async () => {
    await expect
      .poll(
        async () => {
          const res = await fetch(`${promUrl}/api/v1/alerts`);
          const body = (await res.json()) as {
            data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
          };
          return body.data.alerts.map((a) => `${a.labels.alertname} ${a.labels.function}`).sort();
        },
        { timeout: 20_000, interval: 500 },
      )
      .toEqual([
        'ServalFunctionErrorRateHigh fails',
        'ServalFunctionThrottled limited',
        'ServalRecursiveLoopStopped ok',
      ]);
  });
});

describe('the threshold stripping the rule checks rely on', () => {
  it('removes comparisons with numbers and nothing else', () => {
    expect(withoutThresholds('max by (q) (a / b) > 0.9')).toBe('max by (q) (a / b)');
    expect(withoutThresholds('(x) > 0.05\nand\ny > 1e-3')).toBe('(x)\nand\ny');
    expect(withoutThresholds('histogram_quantile(0.99, rate(h[5m])) >= 2')).toBe(
      'histogram_quantile(0.99, rate(h[5m]))',
    );
  });

  it.skipIf(!prometheusAvailable)('a misspelt metric returns no data', async () => {
    expect(await returnsData('sum by (function) (rate(serval_invocation_total[2m]))')).toBe(false);
    expect(prometheusLog).not.toMatch(/level=error/);
  });
});
