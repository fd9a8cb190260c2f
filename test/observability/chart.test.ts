// The observability pieces of charts/serval hang together: templates include files that exist, promtool
// accepts the rule file, and the dashboard is well-formed for Grafana (its queries are tested in
// prometheus.test.ts against a real Prometheus).
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/serval.ts';
import { serverAvailable } from '../support/servers.ts';

const PROMTOOL = process.env.PROMTOOL_BIN ?? 'promtool';

/** Grafana's data-source variable, literally. */
const DATASOURCE = ['$', '{datasource}'].join('');
const CHART = join(REPO_ROOT, 'charts/serval');
const run = promisify(execFile);

describe('charts/serval observability', () => {
  it('every .Files.Get in the templates names a file of the chart', () => {
    const included = readdirSync(join(CHART, 'templates')).flatMap((t) =>
      [...readFileSync(join(CHART, 'templates', t), 'utf8').matchAll(/\.Files\.Get "([^"]+)"/g)].map(
        (m) => m[1]!,
      ),
    );
    expect(included.sort()).toEqual([
      'dashboards/serval-streams.json',
      'dashboards/serval.json',
      'rules/serval-alerts.yaml',
      'rules/serval-streams-alerts.yaml',
    ]);
    for (const file of included) expect(existsSync(join(CHART, file)), file).toBe(true);
  });

  it
    .skipIf(!serverAvailable(PROMTOOL, 'prometheus'))
    .each(['serval-alerts.yaml', 'serval-streams-alerts.yaml'])(
    'promtool accepts the alert rules in %s',
    async (file) => {
      const { stdout } = await run(PROMTOOL, ['check', 'rules', join(CHART, 'rules', file)]);
      expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
    },
  );

  it.each([
    ['serval.json', ['datasource', 'job', 'namespace', 'function']],
    ['serval-streams.json', ['datasource', 'namespace', 'function']],
  ])(
    '%s has unique panel ids, fits Grafana’s 24-column grid, and queries the chosen data source',
    (file, variables) => {
      const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', file), 'utf8'));
      const ids = dashboard.panels.map((p: { id: number }) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of dashboard.panels) {
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
        if (p.type !== 'row') expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DATASOURCE });
      }
      expect(dashboard.templating.list.map((v: { name: string }) => v.name)).toEqual(variables);
    },
  );
});
