// The init CPU boost's fallback (ADR-48) on a kubelet that does not resize pods in place: the stand-in node
// agent reports no container `resources`, as a kubelet older than 1.33 or with InPlacePodVerticalScaling
// off does. The first pod starts boosted; once it has initialised the controller sees that its kubelet
// cannot take the boost back, leaves it be, and gives later pods their proportional CPU from the start.
// (test/kubernetes/real-node.test.ts covers the resize itself, on a real kubelet.)

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'boost';

describe.skipIf(!rigAvailable)('the init CPU boost without in-place resize', () => {
  let rig: ServalRig;

  beforeAll(async () => {
    rig = await startServalRig([NS], { controllerEnv: { SERVAL_INIT_CPU_MILLICORES: '1000' } });
  }, 180_000);

  afterAll(async () => {
    await rig?.stop();
  });

  const answers = async (name: string) => {
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, name, 'export const handler = async () => "ok"'),
    );
    // Ready first: a status change retires the environments started before it, pods and all.
    await rig.until(`${name} Ready`, async () =>
      (await rig.json(['get', 'function', name, '-n', NS])).status?.conditions?.some(
        (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
      ),
    );
    const r = await rig.until(
      `${name} answers`,
      async () => {
        const res = await rig.invoke(NS, name);
        return res.status === 200 ? res : undefined;
      },
      60_000,
    );
    expect(JSON.parse(r.body)).toBe('ok');
    const [pod] = (await rig.json(['get', 'pods', '-n', NS, '-l', `serval.dev/function=${name}`])).items;
    return pod;
  };

  it('boosts the first pod, turns the boost off when its kubelet cannot resize, and gives the next its share', async () => {
    const first = await answers('first');
    expect(first.spec.containers[0].resources).toEqual({
      requests: { cpu: '71m', memory: '128Mi' },
      limits: { cpu: '1', memory: '128Mi' },
    });
    await rig.until(
      'the controller to turn the boost off',
      async () =>
        rig.log.some(
          (l) => l.includes('init CPU boost off') && l.includes('does not report container resources'),
        ),
      30_000,
    );
    // Never asked to resize: the kubelet would not have acted on it.
    const again = await rig.json(['get', 'pod', first.metadata.name, '-n', NS]);
    expect(again.spec.containers[0].resources.limits.cpu).toBe('1');

    const second = await answers('second');
    expect(second.spec.containers[0].resources).toEqual({
      requests: { cpu: '72m', memory: '128Mi' },
      limits: { cpu: '72m', memory: '128Mi' },
    });
    expect(second.metadata.annotations?.['serval.dev/cpu-after-init']).toBeUndefined();
    expect(second.spec.containers[0].env.map((e: { name: string }) => e.name)).not.toContain(
      'SERVAL_CPU_AFTER_INIT_MILLICORES',
    );
  }, 180_000);
});
