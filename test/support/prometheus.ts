// Starts a real Prometheus (Debian's `prometheus`) that scrapes one target every second and loads the chart's
// alert rules, and asks it PromQL queries.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { testDataRoot } from './serval.ts';
import { serverAvailable } from './servers.ts';

const PROMETHEUS = process.env.PROMETHEUS_BIN ?? 'prometheus';
export const prometheusAvailable = serverAvailable(PROMETHEUS, 'prometheus');

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface TestPrometheus {
  url: string;
  query(expr: string): Promise<Sample[]>;
  /** At least one sample with a real number (not NaN, not ±Inf). */
  returnsData(expr: string): Promise<boolean>;
  alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>>;
  close(): Promise<void>;
}

/** `port`: when the gateway must know Prometheus' address before Prometheus starts (deployments ask it). */
export async function startPrometheus(
  metricsUrl: string,
  rulesFile: string,
  options: { port?: number } = {},
): Promise<TestPrometheus> {
  const work = mkdtempSync(join(testDataRoot(), 'prometheus-'));
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  writeFileSync(
    join(work, 'prometheus.yml'),
    JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      rule_files: [rulesFile],
      scrape_configs: [{ job_name: 'serval', static_configs: [{ targets: [new URL(metricsUrl).host] }] }],
    }),
  );
  let log = '';
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stderr?.on('data', (d: Buffer) => {
    log += d;
  });
  const query = async (expr: string): Promise<Sample[]> => {
    const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`${body.error}\n  in: ${expr}`);
    return body.data!.result;
  };
  const until = Date.now() + 60_000;
  for (;;) {
    const up = await query('up{job="serval"} == 1').catch(() => []);
    if (up.length === 1) break;
    if (Date.now() > until) throw new Error(`Prometheus did not scrape the gateway:\n${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    query,
    async returnsData(expr) {
      return (await query(expr)).some((s) => Number.isFinite(Number(s.value[1])));
    },
    async alerts() {
      const body = (await (await fetch(`${url}/api/v1/alerts`)).json()) as {
        data: { alerts: Array<{ labels: Record<string, string>; state: string }> };
      };
      return body.data.alerts;
    },
    async close() {
      child.kill();
      await new Promise((r) => child.once('exit', r));
      rmSync(work, { recursive: true, force: true });
    },
  };
}
