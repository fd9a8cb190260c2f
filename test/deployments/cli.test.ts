// `serval deploy`, the real command against a real gateway: start, status, stop, rollback, and its errors.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT, type TestServal } from '../support/serval.ts';
import { shopGateway } from './support.ts';

let serval: TestServal;
beforeAll(async () => {
  // One minute is 600 ms: a 10-minute step (6 s) outlasts a few CLI runs.
  serval = await shopGateway(0.01);
});
afterAll(() => serval?.stop());

/** Runs `serval deploy …` without blocking this process: the gateway under test lives in it. */
function deploy(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/serval.mjs', 'deploy', ...args, '--endpoint', serval.url],
      { cwd: REPO_ROOT },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

// Each run of the command starts Node afresh: seconds apiece on a loaded machine, hence the timeouts.
it('starts a deployment and reports its progress until it succeeds', async () => {
  const started = await deploy(
    'shop',
    '--alias',
    'live',
    '--version',
    '2',
    '--strategy',
    'Linear10PercentEvery1Minute',
    '--rollback-error-rate',
    '0.5',
    '--pre-traffic-hook',
    'hook-ok',
    '--post-traffic-hook',
    'hook-ok',
  );
  expect(started).toMatchObject({ code: 0, stderr: '' });
  expect(started.stdout).toMatch(
    /^shop:live: deployment d-[0-9a-f]{12} started: version 1 -> 2 \(Linear10PercentEvery1Minute\)\n$/,
  );
  await expect
    .poll(async () => (await deploy('status', 'shop', '--alias', 'live')).stdout, {
      timeout: 150_000,
      interval: 200,
    })
    .toMatch(
      /^shop:live -> version 2\nno deployment in progress\n {2}d-\S+ Succeeded 1 -> 2 Linear10PercentEvery1Minute, 100% on 2, /,
    );
}, 300_000);

it('says why it refuses: bad strategy, nothing to roll back, missing flags', async () => {
  const bad = await deploy(
    'shop',
    '--alias',
    'live',
    '--version',
    '1',
    '--strategy',
    'Canary10Percent5Minute',
  );
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/^serval: InvalidParameterValueException: strategy: must be AllAtOnce/);
  const rollback = await deploy('rollback', 'shop', '--alias', 'live');
  expect(rollback.code).toBe(1);
  expect(rollback.stderr).toMatch(/ResourceConflictException: no deployment of shop:live to roll back/);
  const rate = await deploy(
    'shop',
    '--alias',
    'live',
    '--version',
    '1',
    '--strategy',
    'AllAtOnce',
    '--rollback-error-rate',
    'lots',
  );
  expect(rate.code).toBe(1);
  expect(rate.stderr).toMatch(/--rollback-error-rate takes a share from 0 to 1/);
  const usage = await deploy('shop', '--version', '2');
  expect(usage.code).toBe(2);
  expect(usage.stderr).toMatch(/usage: serval deploy <function> --alias A --version N --strategy S/);
}, 300_000);

it('stop leaves the weights where they are, rollback moves all traffic back', async () => {
  // Version 2 is live now; deploy 1 in custom 30-minute steps (18 s each, 162 s in all: each CLI run can take
  // tens of seconds on a loaded machine) and stop it half-way.
  expect(
    (await deploy('shop', '--alias', 'live', '--version', '1', '--strategy', 'Linear10PercentEvery30Minutes'))
      .code,
  ).toBe(0);
  const stopped = await deploy('stop', 'shop', '--alias', 'live');
  const [, share] =
    /^shop:live: d-\S+ Stopped 2 -> 1 .*, (\d+)% on 1, .*: stopped by the operator\n$/.exec(stopped.stdout) ??
    [];
  expect(Number(share), stopped.stdout).toBeGreaterThan(0);
  expect(Number(share)).toBeLessThan(100);
  expect((await deploy('status', 'shop', '--alias', 'live')).stdout).toMatch(
    new RegExp(`^shop:live -> version 2, ${share}% to version 1\nno deployment in progress\n`),
  );
  const rolledBack = await deploy('rollback', 'shop', '--alias', 'live');
  expect(rolledBack.stdout).toMatch(/^shop:live: d-\S+ RolledBack 2 -> 1 .*0% on 1/);
  expect((await deploy('status', 'shop', '--alias', 'live')).stdout).toMatch(/^shop:live -> version 2\n/);
}, 300_000);
