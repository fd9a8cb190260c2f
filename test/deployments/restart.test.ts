// A deployment survives a gateway restart: the new gateway resumes it at the step the old one reached, from
// the progress kept in the data directory.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { DeploymentStatus } from '../../apis/deployment.ts';
import { functionManifest, startServal, type TestServal, testDataRoot } from '../support/serval.ts';
import {
  codeDirectory,
  controlCall,
  deployments,
  find,
  publishVersions,
  shiftedSteps,
  versionSource,
} from './support.ts';

const work = mkdtempSync(join(testDataRoot(), 'deploy-restart-'));
const servals: TestServal[] = [];
afterAll(async () => {
  await Promise.all(servals.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

it('a gateway restarted mid-deployment resumes it at the step it had reached', async () => {
  const code = codeDirectory();
  code.write(versionSource('one'));
  const manifests = join(work, 'manifests');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(
    join(manifests, 'functions.yaml'),
    stringify(
      functionManifest({ name: 'shop', runtime: 'nodejs24.x', handler: 'index.handler', codePath: code.dir }),
    ),
  );
  // One minute is 1.2 s: each step lasts long enough to restart within it, even on a loaded machine.
  const start = async () => {
    const s = await startServal({
      manifestsDir: manifests,
      config: { dataDir: join(work, 'data'), deploymentTimeScale: 0.02 },
    });
    servals.push(s);
    return s;
  };
  const first = await start();
  await publishVersions(first, 'shop', code, [versionSource('one'), versionSource('two')]);
  await controlCall(first, 'POST', '/2015-03-31/functions/shop/aliases', {
    Name: 'live',
    FunctionVersion: '1',
  });
  const started = await deployments(first, 'shop', 'live').start({
    strategy: 'Linear10PercentEvery1Minute',
    targetVersion: '2',
  });
  const id = String(started.body.id);
  await expect
    .poll(async () => find(await deployments(first, 'shop', 'live').view(), id)?.step ?? -1, {
      timeout: 60_000,
    })
    .toBeGreaterThanOrEqual(2);
  servals.splice(servals.indexOf(first), 1);
  await first.stop();
  const before = shiftedSteps(first.gatewayLog(), id);
  const reached = readProgress().current!;
  expect(reached.id).toBe(id);
  expect(reached.phase).toBe('Shifting');
  expect(before).toHaveLength(reached.step + 1);

  const second = await start();
  expect(
    second.gatewayLog().some((l) => l.includes(`deployment ${id} of shop:live resumes at Shifting`)),
  ).toBe(true);
  await expect
    .poll(async () => find(await deployments(second, 'shop', 'live').view(), id)?.phase, { timeout: 120_000 })
    .toBe('Succeeded');
  // The second gateway went on from the next step: every step happened once, in order, across both.
  const after = shiftedSteps(second.gatewayLog(), id);
  expect([...before, ...after]).toEqual(Array.from({ length: 10 }, (_, i) => `${i + 1}/10:${(i + 1) * 10}`));
  expect(await deployments(second, 'shop', 'live').view()).toMatchObject({
    functionVersion: '2',
    additionalVersionWeights: {},
  });
}, 300_000);

/** What the stopped gateway left in its data directory. */
function readProgress(): DeploymentStatus {
  return JSON.parse(readFileSync(join(work, 'data', 'deployments', 'default', 'shop', 'live.json'), 'utf8'));
}
