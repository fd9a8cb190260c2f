// What a Function's status and Events tell on a real API server: the function URL in status.url (the
// printer column), a Normal Ready Event when it becomes Ready, and a full node (the node agent refusing
// pods with OutOfcpu, as the kubelet does) throttling callers with 429 and saying so in status, Events and
// the controller's metrics.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'status';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function fnManifest(name: string, spec: Record<string, unknown> = {}) {
  return functionManifest(NS, name, 'export const handler = async () => ({ ok: true })', spec);
}

describe.skipIf(!rigAvailable)('Function status, Events and capacity', () => {
  let rig: ServalRig;
  const condition = async (name: string, type: string): Promise<Condition | undefined> =>
    (await rig.json(['get', 'function', name, '-n', NS])).status?.conditions?.find(
      (c: Condition) => c.type === type,
    );
  const events = async (name: string) =>
    (await rig.json(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${name}`]))
      .items as { type: string; reason: string; message: string }[];

  beforeAll(async () => {
    rig = await startServalRig([NS]);
  }, 180_000);

  afterAll(async () => {
    await rig?.stop();
  });

  it('writes status.url for a Function with spec.url, shows it as a column, and drops it with spec.url', async () => {
    await rig.kubectl(['apply', '-f', '-'], fnManifest('web', { url: { authType: 'NONE' } }));
    const id = functionUrlId(NS, 'web', '$LATEST');
    const expected = `http://${id}.lambda-url.local.localhost/`;
    await rig.until('status.url', async () => {
      const fn = await rig.json(['get', 'function', 'web', '-n', NS]);
      return fn.status?.url === expected;
    });
    const wide = await rig.kubectl(['get', 'function', 'web', '-n', NS, '-o', 'wide']);
    expect(wide).toContain(expected);

    await rig.kubectl(['apply', '-f', '-'], fnManifest('web'));
    await rig.until('status.url removed', async () => {
      const fn = await rig.json(['get', 'function', 'web', '-n', NS]);
      return fn.status?.observedGeneration === fn.metadata.generation && fn.status.url === undefined;
    });
  });

  it('records one Normal Ready Event when a Function becomes Ready', async () => {
    await rig.kubectl(['apply', '-f', '-'], fnManifest('readied'));
    const ready = await rig.until('Ready Event', async () =>
      (await events('readied')).find((e) => e.reason === 'Ready'),
    );
    expect(ready.type).toBe('Normal');
    expect(ready.message).toMatch(/serving \$LATEST/);
    // Re-lists (every 5 s here) reconcile it again without a second Event.
    await new Promise((r) => setTimeout(r, 6000));
    expect((await events('readied')).filter((e) => e.reason === 'Ready')).toHaveLength(1);
  });

  it('throttles with 429 while the node has no CPU left, says why, and serves once a pod fits', async () => {
    await rig.kubectl(['apply', '-f', '-'], fnManifest('squeezed'));
    await rig.until('squeezed Ready', async () => (await condition('squeezed', 'Ready'))?.status === 'True');
    // A 128 MB function asks for 72m; the node has 50m left.
    rig.node.setCpuCapacity(50);
    const throttled = await rig.until('a throttle', async () => {
      const r = await rig.invoke(NS, 'squeezed');
      return r.status === 404 ? undefined : r; // until the gateway's watch knows the Function
    });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
    expect(throttled.headers.get('retry-after')).toBe('1');
    const body = JSON.parse(throttled.body);
    expect(body.Reason).toBe('ConcurrentInvocationLimitExceeded');
    expect(body.message).toMatch(/OutOfcpu/);

    const short = await rig.until('Capacity=False', async () => {
      const c = await condition('squeezed', 'Capacity');
      return c?.status === 'False' ? c : undefined;
    });
    expect(short.reason).toBe('OutOfcpu');
    expect(short.message).toMatch(/Node didn't have enough resource: cpu/);
    const warning = await rig.until('InsufficientCapacity Event', async () =>
      (await events('squeezed')).find((e) => e.reason === 'InsufficientCapacity'),
    );
    expect(warning.type).toBe('Warning');
    const metrics = await (await fetch(`${rig.controller.healthUrl}/metrics`)).text();
    expect(metrics).toMatch(/serval_controller_pods_total\{action="refused"\} [1-9]/);
    // The refused pod is cleaned up rather than left Failed.
    await rig.until('refused pods deleted', async () => {
      const pods = await rig.json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=squeezed']);
      return pods.items.every((p: { status?: { reason?: string } }) => p.status?.reason !== 'OutOfcpu');
    });

    rig.node.setCpuCapacity(undefined);
    const served = await rig.invoke(NS, 'squeezed');
    expect(served.status).toBe(200);
    expect(JSON.parse(served.body)).toEqual({ ok: true });
    await rig.until(
      'Capacity=True',
      async () => (await condition('squeezed', 'Capacity'))?.status === 'True',
    );
  }, 120_000); // two cold starts, on a loaded machine
});
