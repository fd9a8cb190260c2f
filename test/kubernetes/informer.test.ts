// The informer against a real kube-apiserver, counted by the API server itself (apiserver_request_total):
// each resync is one re-list and one watch restart, so restarts grow with the number of resyncs, not
// with its square (the defect in #15: every resync left a restart loop behind that never ended).

import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseControllerConfig } from '../../controller/config.ts';
import { type RunningController, startController } from '../../controller/controller.ts';
import { startInformer } from '../../kube/informer.ts';
import { type FunctionObject, functionsPath } from '../../kube/resources.ts';
import { REPO_ROOT } from '../support/serval.ts';
import { type Cluster, clusterAvailable, startCluster } from './cluster.ts';

describe.skipIf(!clusterAvailable)('informer on a real API server', () => {
  let cluster: Cluster;
  let kc: KubeConfig;

  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** The API server's own count of requests by verb for one resource. */
  const served = async (verb: 'LIST' | 'WATCH', resource: string) => {
    const text = await kubectl(['get', '--raw', '/metrics']);
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      if (!line.includes(`verb="${verb}"`) || !line.includes(`resource="${resource}"`)) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  };
  const eventually = async (what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs;
    while (!(await probe())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  beforeAll(async () => {
    cluster = await startCluster();
    await kubectl(['apply', '-f', join(REPO_ROOT, 'charts/serval/crds')]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    await kubectl(['create', 'namespace', 'serval-system']);
    kc = new KubeConfig();
    kc.loadFromString(cluster.kubeconfig);
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('re-lists on every resync and restarts the watch once per resync, no more', async () => {
    const seen = new Map<string, FunctionObject>();
    const removed: string[] = [];
    const informer = startInformer<FunctionObject>(
      kc,
      functionsPath(),
      {
        upsert: (o) => seen.set(o.metadata!.name!, o),
        remove: (o) => removed.push(o.metadata!.name!),
      },
      { resyncMs: 500 },
    );
    try {
      await informer.synced;
      await kubectl(
        ['apply', '-f', '-'],
        stringify({
          apiVersion: 'serval.dev/v1alpha1',
          kind: 'Function',
          metadata: { name: 'watched', namespace: 'default' },
          spec: { runtime: 'nodejs24.x', handler: 'index.handler', code: { inline: { 'index.mjs': '' } } },
        }),
      );
      await eventually('the watch to deliver the Function', () => seen.has('watched'));
      const listsBefore = await served('LIST', 'functions');
      await eventually(
        'ten re-lists at the API server',
        async () => (await served('LIST', 'functions')) >= listsBefore + 10,
        30_000,
      );
      await informer.stop();
      await kubectl(['delete', 'function', 'watched', '-n', 'default']);

      const { lists, watches } = informer.stats();
      // One watch per list, give or take the one in flight when stop came.
      expect(watches).toBeGreaterThanOrEqual(lists - 1);
      expect(watches).toBeLessThanOrEqual(lists + 1);
      // The server saw the same: re-lists really happen, and the watches do not multiply.
      await eventually('the server to account for the last watch', async () => {
        return (await served('WATCH', 'functions')) >= watches;
      });
      expect(await served('WATCH', 'functions')).toBeLessThanOrEqual(lists + 1);
      expect(removed).toEqual([]); // nothing vanished, so a re-list reports nothing removed
    } finally {
      await informer.stop();
    }
  }, 60_000);

  it("keeps the controller's watch restarts flat, one per SERVAL_RESYNC_SECONDS", async () => {
    const resources = ['functions', 'aliases', 'pods'] as const;
    const count = async () => Promise.all(resources.map((r) => served('WATCH', r)));
    const controller: RunningController = await startController(
      kc,
      parseControllerConfig({
        SERVAL_GATEWAY_URL: 'http://127.0.0.1:9', // no gateway: the demand poll fails quietly
        SERVAL_LINK_URL: 'ws://127.0.0.1:9',
        SERVAL_LINK_KEY: 'unused-link-key-0123456789',
        SERVAL_LEASE_NAMESPACE: 'serval-system',
        SERVAL_HEALTH_PORT: '0',
        SERVAL_RESYNC_SECONDS: '1',
        POD_NAME: 'watch-count',
      }),
      () => undefined,
    );
    // Two windows of several resyncs each: with the defect, the second had far more restarts than the
    // first (every resync added a loop); fixed, each window has about one restart per resync.
    const windows: { restarts: number[]; seconds: number }[] = [];
    try {
      await eventually('leadership', () => controller.isLeader());
      await new Promise((r) => setTimeout(r, 1500));
      for (let w = 0; w < 2; w++) {
        const [before, from] = [await count(), Date.now()];
        await new Promise((r) => setTimeout(r, 8000));
        const after = await count();
        windows.push({ restarts: after.map((n, i) => n - before[i]!), seconds: (Date.now() - from) / 1000 });
      }
    } finally {
      await controller.stop();
    }
    for (const { restarts, seconds } of windows) {
      resources.forEach((resource, i) => {
        expect(restarts[i], `${resource} in ${seconds} s`).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
        expect(restarts[i], `${resource} in ${seconds} s`).toBeGreaterThanOrEqual(3);
      });
    }
  }, 90_000);
});
