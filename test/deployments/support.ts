// A function with published versions whose code the test chooses, an alias on version 1, and clients of the
// deployment API, on a real local gateway.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DeploymentState, DeploymentStatus } from '../../apis/deployment.ts';
import { inlineNode, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

export interface DeploymentView extends DeploymentStatus {
  functionVersion: string;
  additionalVersionWeights: Record<string, number>;
}

/** `label` is what a version returns; `fails` makes it throw instead. */
export function versionSource(label: string, fails = false): string {
  return fails
    ? `export const handler = async () => { throw new Error('version ${label} is broken'); };\n`
    : `export const handler = async () => ({ version: '${label}' });\n`;
}

export function codeDirectory(): { dir: string; write(source: string): void } {
  const dir = mkdtempSync(join(testDataRoot(), 'deploy-code-'));
  return { dir, write: (source) => writeFileSync(join(dir, 'index.mjs'), source) };
}

export function hookSource(status: 'Succeeded' | 'Failed'): Record<string, string> {
  return {
    'index.mjs': `export const handler = async (event) => { console.log('HOOK ' + JSON.stringify(event)); return { status: '${status}' }; };\n`,
  };
}

export async function controlCall(
  serval: TestServal,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; type: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${serval.url}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return {
    status: res.status,
    type: res.headers.get('x-amzn-errortype'),
    body: (await res.json()) as Record<string, unknown>,
  };
}

/** Publishes each source in turn as the next version of `fn` (whose code lives in `code`). */
export async function publishVersions(
  serval: TestServal,
  fn: string,
  code: { write(source: string): void },
  sources: string[],
): Promise<void> {
  for (const source of sources) {
    code.write(source);
    const r = await controlCall(serval, 'POST', `/2015-03-31/functions/${fn}/versions`, {});
    if (r.status !== 201) throw new Error(`publish failed: ${JSON.stringify(r.body)}`);
  }
}

export const deployments = (serval: TestServal, fn: string, alias: string) => ({
  start: (spec: Record<string, unknown>) =>
    controlCall(serval, 'POST', `/serval/v1/deployments/${fn}/${alias}`, spec),
  view: async () =>
    (await controlCall(serval, 'GET', `/serval/v1/deployments/${fn}/${alias}`))
      .body as unknown as DeploymentView,
  stop: () => controlCall(serval, 'POST', `/serval/v1/deployments/${fn}/${alias}/stop`),
  rollback: () => controlCall(serval, 'POST', `/serval/v1/deployments/${fn}/${alias}/rollback`),
});

/** The deployment with this id, wherever it is (in progress or finished). */
export function find(view: DeploymentView, id: string): DeploymentState | undefined {
  if (view.current?.id === id) return view.current;
  return view.history?.find((d) => d.id === id);
}

/** The TrafficShifted steps a gateway logged for a deployment, as "step/of:percent". */
export function shiftedSteps(log: string[], id: string): string[] {
  return log
    .filter((l) => l.includes(`deployment ${id}`) && l.includes('TrafficShifted'))
    .map((l) => {
      const m = /step (\d+)\/(\d+): (\d+) %/.exec(l)!;
      return `${m[1]}/${m[2]}:${m[3]}`;
    });
}

/**
 * `shop` with versions 1 and 2 (healthy) and 3 (throws), the alias `live` on 1, and two hook functions:
 * `hook-ok` reports Succeeded, `hook-fail` Failed; each logs the event it got.
 */
export async function shopGateway(deploymentTimeScale: number, prometheusUrl?: string): Promise<TestServal> {
  const code = codeDirectory();
  code.write(versionSource('one'));
  const serval = await startServal({
    functions: [
      { name: 'shop', runtime: 'nodejs24.x', handler: 'index.handler', codePath: code.dir },
      inlineNode('hook-ok', '', { inline: hookSource('Succeeded') }),
      inlineNode('hook-fail', '', { inline: hookSource('Failed') }),
    ],
    config: { deploymentTimeScale, prometheusUrl },
  });
  await publishVersions(serval, 'shop', code, [
    versionSource('one'),
    versionSource('two'),
    versionSource('three', true),
  ]);
  const alias = await controlCall(serval, 'POST', '/2015-03-31/functions/shop/aliases', {
    Name: 'live',
    FunctionVersion: '1',
  });
  expect(alias.status).toBe(201);
  return serval;
}

/**
 * Starts a canary to the failing version 3 with both versions warm, and calls the alias until the
 * deployment rolls back; returns its id. The canary step lasts 120 strategy minutes, so even a slow machine
 * sends version 3 calls long before the step would end; the rollback itself comes at the first check after.
 */
export async function canaryUntilRolledBack(
  serval: TestServal,
  rollback: Record<string, unknown>,
  timeoutMs: number,
): Promise<string> {
  const live = deployments(serval, 'shop', 'live');
  // Warm both versions so the canary's first calls do not wait for a cold start.
  expect((await serval.invoke('shop:1', {})).status).toBe(200);
  await serval.invoke('shop:3', {});
  const started = await live.start({ strategy: 'Canary10Percent120Minutes', targetVersion: '3', rollback });
  expect(started.status).toBe(201);
  const id = String(started.body.id);
  const until = Date.now() + timeoutMs;
  while (find(await live.view(), id)?.phase !== 'RolledBack') {
    if (Date.now() > until) throw new Error(`no rollback: ${JSON.stringify(await live.view())}`);
    await Promise.all(Array.from({ length: 4 }, () => serval.invoke('shop:live', {})));
  }
  return id;
}
