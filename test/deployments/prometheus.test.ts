// Deployments judged by PromQL against a real Prometheus (Debian's `prometheus`) scraping the gateway: a
// condition that fires rolls back, a broken query pauses with Prometheus' own error, and the dashboard's
// deployment panels return data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.ts';
import { prometheusAvailable, startPrometheus, type TestPrometheus } from '../support/prometheus.ts';
import { REPO_ROOT, type TestServal } from '../support/serval.ts';
import { canaryUntilRolledBack, deployments, find, shopGateway } from './support.ts';

const CHART = join(REPO_ROOT, 'charts/serval');
const ERRORS_OF_TARGET =
  'sum(increase(serval_invocations_total{namespace="{{namespace}}",function="{{function}}",version="{{version}}",outcome="error"}[1m])) > 0';

let serval: TestServal;
let prometheus: TestPrometheus;

beforeAll(async () => {
  if (!prometheusAvailable) return;
  const port = await freePort();
  // One minute is 3 s: checks every 500 ms; the canary step outlasts any wait for Prometheus to scrape.
  serval = await shopGateway(0.05, `http://127.0.0.1:${port}`);
  prometheus = await startPrometheus(serval.metricsUrl!, join(CHART, 'rules/serval-alerts.yaml'), { port });
}, 120_000);
afterAll(async () => {
  await prometheus?.close();
  await serval?.stop();
});
const live = () => deployments(serval, 'shop', 'live');

describe.skipIf(!prometheusAvailable)('PromQL rollback conditions', () => {
  it('a broken query pauses the deployment with the reason Prometheus gave', async () => {
    const started = await live().start({
      strategy: 'Linear10PercentEvery1Minute',
      targetVersion: '2',
      rollback: { promql: ['sum(rate(serval_invocations_total[1m]) >'] },
    });
    const id = String(started.body.id);
    await expect.poll(async () => find(await live().view(), id)?.phase).toBe('Paused');
    expect(find(await live().view(), id)?.reason).toMatch(/PromQL query .* failed: bad_data: .*parse error/);
    expect((await live().rollback()).body).toMatchObject({ id, phase: 'RolledBack' });
    expect(await live().view()).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
  });

  it('a firing condition on the target version rolls the canary back', async () => {
    const id = await canaryUntilRolledBack(serval, { promql: [ERRORS_OF_TARGET] }, 120_000);
    expect(find(await live().view(), id)?.reason).toMatch(/^PromQL condition .*version="3".* returned \d/);
    expect(await live().view()).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
  }, 300_000);
});

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/serval.json'), 'utf8')) as {
  panels: Panel[];
};
const panelQueries = dashboard.panels
  .flatMap((p) => (p.targets ?? []).map((t) => [p.title, t.expr] as const))
  .filter(([, expr]) => expr.includes('serval_deployment'));

describe.skipIf(!prometheusAvailable)('the dashboard', () => {
  it('has deployment panels', () => {
    expect(panelQueries.length).toBeGreaterThanOrEqual(2);
  });

  it.each(panelQueries)('%s returns data once deployments ran', async (_, expr) => {
    const query = expr.replaceAll('$__range', '5m').replace(/\$\{?(namespace|function|job)\}?/g, '.*');
    await expect.poll(() => prometheus.returnsData(query), { timeout: 20_000 }).toBe(true);
  });
});
