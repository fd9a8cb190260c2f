// Alias deployments in cluster mode on the real kube-apiserver rig: editing the Alias with kubectl starts a
// deployment the controller drives, traffic between two pod-backed versions splits as the step says, Events
// record each step, and a controller restart mid-deployment resumes it from the Alias's status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startController } from '../../controller/controller.ts';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'deploy';
/** One minute is 6 s: the 30-minute canary step lasts 180 s, ample for 1,000 calls on a loaded machine. */
const TIME_SCALE = '0.1';

let rig: ServalRig;
let controller: ServalRig['controller'];

beforeAll(async () => {
  if (!rigAvailable) return;
  rig = await startServalRig([NS], { controllerEnv: { SERVAL_DEPLOYMENT_TIME_SCALE: TIME_SCALE } });
  controller = rig.controller;
}, 240_000);
afterAll(async () => {
  if (controller !== rig?.controller) await controller?.stop();
  await rig?.stop();
});

const version = (label: string) =>
  functionManifest(NS, 'shop', `export const handler = async () => ({ v: '${label}' });`);
const alias = () => rig.json(['get', 'alias', 'shop-live', '-n', NS]);

async function publish(label: string, n: string): Promise<void> {
  await rig.kubectl(['apply', '-f', '-'], version(label));
  await rig.until(
    `code ${label}`,
    async () => JSON.parse((await rig.invoke(NS, 'shop')).body).v === label,
    120_000,
  );
  await rig.kubectl(['annotate', 'function', 'shop', '-n', NS, `serval.dev/publish=${n}`, '--overwrite']);
  await rig.until(
    `version ${n}`,
    async () => (await rig.json(['get', 'function', 'shop', '-n', NS])).status.latestVersion === n,
  );
}

describe.skipIf(!rigAvailable)('a deployment driven by kubectl', () => {
  it('shifts traffic between two pod-backed versions, survives a controller restart, and succeeds', async () => {
    await publish('one', '1');
    await publish('two', '2');
    await rig.kubectl(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Alias',
        metadata: { name: 'shop-live', namespace: NS },
        spec: { name: 'live', functionName: 'shop', functionVersion: '1' },
      }),
    );
    await rig.until('alias routes', async () => (await rig.invoke(NS, 'shop:live')).status === 200);
    // Warm version 2 so the canary's calls do not each wait for its pod.
    await rig.until('version 2 runs', async () => (await rig.invoke(NS, 'shop:2')).status === 200, 120_000);

    await rig.kubectl([
      'patch',
      'alias',
      'shop-live',
      '-n',
      NS,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { deployment: { strategy: 'Canary10Percent30Minutes', targetVersion: '2' } } }),
    ]);
    const shifting = await rig.until('the canary step', async () => {
      const a = await alias();
      return a.status?.deployment?.current?.phase === 'Shifting' &&
        a.spec.routingConfig?.additionalVersionWeights?.['2'] === 0.1
        ? a
        : undefined;
    });
    const id = shifting.status.deployment.current.id as string;

    // 1,000 calls at the 10 % step: version 2 serves 10 % ± 3 points.
    const counts = new Map<string, number>();
    for (let batch = 0; batch < 100; batch++) {
      const results = await Promise.all(Array.from({ length: 10 }, () => rig.invoke(NS, 'shop:live')));
      for (const r of results) {
        expect(r.status, r.body).toBe(200);
        const v = r.headers.get('x-amz-executed-version')!;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    }
    const during = await alias();
    // Still the same step, or the split above would mix two weights.
    expect(during.status.deployment.current).toMatchObject({ id, step: 0, targetWeight: 0.1 });
    const share = (counts.get('2') ?? 0) / 1000;
    expect(share, JSON.stringify([...counts])).toBeGreaterThanOrEqual(0.07);
    expect(share).toBeLessThanOrEqual(0.13);

    // A new controller takes over mid-step and carries the deployment to its end from the Alias's status.
    await controller.stop();
    controller = await startController(rig.controllerKc, rig.controllerConfig('controller-1'), (l) =>
      rig.log.push(`controller-1: ${l}`),
    );
    await rig.until('the new controller leads', async () => controller.isLeader(), 60_000);
    const done = await rig.until(
      'the deployment succeeds',
      async () => {
        const a = await alias();
        return a.status?.deployment?.history?.[0]?.phase === 'Succeeded' ? a : undefined;
      },
      300_000,
    );
    expect(done.status.deployment.history[0]).toMatchObject({
      id,
      fromVersion: '1',
      targetVersion: '2',
      targetWeight: 1,
    });
    expect(done.status.deployment.current).toBeUndefined();
    expect(done.spec.functionVersion).toBe('2');
    expect(done.spec.routingConfig).toBeUndefined();
    expect(
      rig.log.some((l) => l.startsWith('controller-1:') && l.includes(`deployment ${id} runs at Shifting`)),
    ).toBe(true);
    const after = await rig.invoke(NS, 'shop:live');
    expect(after.headers.get('x-amz-executed-version')).toBe('2');

    const events = await rig.json([
      'get',
      'events',
      '-n',
      NS,
      '--field-selector',
      'involvedObject.kind=Alias,involvedObject.name=shop-live',
    ]);
    const reasons = events.items.map((e: { reason: string }) => e.reason);
    expect(reasons).toEqual(
      expect.arrayContaining(['DeploymentStarted', 'TrafficShifted', 'DeploymentSucceeded']),
    );
    expect(reasons.filter((r: string) => r === 'TrafficShifted')).toHaveLength(2);
  }, 600_000);
});
