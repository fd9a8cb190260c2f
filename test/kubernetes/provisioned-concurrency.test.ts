// Provisioned concurrency is local-only for now (ADR-41): in a cluster the API refuses it saying so, and an
// Alias that asks for it gets a condition saying it is not served, rather than being silently ignored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliasManifest, functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'default';

describe.skipIf(!rigAvailable)('provisioned concurrency on a cluster', () => {
  let rig: ServalRig;

  beforeAll(async () => {
    rig = await startServalRig([]);
  }, 180_000);
  afterAll(async () => {
    await rig?.stop();
  });

  it('is refused by the API, and an Alias asking for it says it is not served', async () => {
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'pc', 'export const handler = async () => 1;'),
    );
    const path = '/2019-09-30/functions/pc/provisioned-concurrency?Qualifier=live';
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await fetch(`${rig.gateway.url}${path}`, {
        method,
        body: method === 'PUT' ? JSON.stringify({ ProvisionedConcurrentExecutions: 1 }) : undefined,
      });
      expect(res.status).toBe(409);
      expect(res.headers.get('x-amzn-errortype')).toMatch(/^ResourceConflictException/);
      expect(((await res.json()) as { message: string }).message).toMatch(/not available in a cluster/);
    }

    await rig.kubectl(
      ['apply', '-f', '-'],
      aliasManifest(NS, 'pc-live', {
        name: 'live',
        functionName: 'pc',
        functionVersion: '1',
        provisionedConcurrency: 2,
      }),
    );
    const condition = await rig.until('the ProvisionedConcurrency condition', async () => {
      const alias = await rig.json(['get', 'alias', 'pc-live', '-n', NS]);
      return (alias.status?.conditions ?? []).find(
        (c: { type: string }) => c.type === 'ProvisionedConcurrency',
      ) as { status: string; reason: string; message: string } | undefined;
    });
    expect(condition).toMatchObject({ status: 'False', reason: 'NotSupportedInCluster' });
    expect(condition.message).toMatch(/local mode only/);
  }, 180_000);
});
