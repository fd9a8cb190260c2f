// Serval on a real kube-apiserver: the chart's RBAC, the controller under its own ServiceAccount, the
// gateway in cluster mode, and a test node agent that runs the pods the controller creates. Functions are
// applied with kubectl, invoked through the gateway, republished, aliased, crashed and deleted.

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { RunningController } from '../../controller/controller.ts';
import { startController } from '../../controller/controller.ts';
import { type HttpSink, startHttpSink } from '../support/http-sink.ts';
import { natsAvailable, startNats, type TestNats } from '../support/nats.ts';
import type { Cluster } from './cluster.ts';
import type { NodeAgent } from './node-agent.ts';
import {
  aliasManifest,
  functionManifest,
  NODE,
  rigAvailable,
  type ServalRig,
  startServalRig,
} from './rig.ts';

const NS = 'e2e';

function fnManifest(name: string, code: string, spec: Record<string, unknown> = {}) {
  return functionManifest(NS, name, code, spec);
}

describe.skipIf(!rigAvailable)('Serval on Kubernetes', () => {
  let rig: ServalRig;
  let cluster: Cluster;
  let controller: RunningController;
  let node: NodeAgent;
  let controllerKc: KubeConfig;
  let controllerConfig: ServalRig['controllerConfig'];
  let log: string[] = [];
  const kubectl = (args: string[], input?: string) => rig.kubectl(args, input);
  const json = (args: string[]) => rig.json(args);
  const invoke = (name: string, payload: unknown = {}) => rig.invoke(NS, name, payload);
  const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number) =>
    rig.until(what, probe, timeoutMs);

  beforeAll(async () => {
    rig = await startServalRig([NS]);
    ({ cluster, controller, node, controllerKc, controllerConfig, log } = rig);
  }, 180_000);

  afterAll(async () => {
    await rig?.stop();
  });

  it('runs the controller under the chart ServiceAccount, which is not cluster-admin', async () => {
    const who = 'system:serviceaccount:serval-system:serval-controller';
    const sa = (await cluster.kubectl(['get', 'sa', '-n', 'serval-system', '-o', 'name'])).stdout;
    expect(sa).toMatch(/controller/);
    const everything = await cluster.kubectl(['auth', 'can-i', '*', '*', '--all-namespaces', `--as=${who}`]);
    expect(everything.stdout.trim()).toBe('no');
    const secrets = await cluster.kubectl([
      'auth',
      'can-i',
      'list',
      'secrets',
      '--all-namespaces',
      `--as=${who}`,
    ]);
    expect(secrets.stdout.trim()).toBe('no');
    const pods = await cluster.kubectl(['auth', 'can-i', 'create', 'pods', '-n', NS, `--as=${who}`]);
    expect(pods.stdout.trim()).toBe('yes');
  });

  it('applies a Function, invokes it in a pod, and runs new code after a change', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      fnManifest('hello', 'export const handler = async (e) => ({ v: "one", e })'),
    );
    await until('hello Ready', async () => {
      const fn = await json(['get', 'function', 'hello', '-n', NS]);
      return fn.status?.conditions?.find(
        (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True',
      );
    });
    // The gateway learns of the Function through its own watch, which may trail the controller's status.
    const first = await until('hello known to the gateway', async () => {
      const r = await invoke('hello', { a: 1 });
      return r.status === 404 ? undefined : r;
    });
    expect(first).toMatchObject({ status: 200, error: null });
    expect(JSON.parse(first.body)).toEqual({ v: 'one', e: { a: 1 } });
    const pods = await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=hello']);
    expect(pods.items.length).toBeGreaterThanOrEqual(1);
    expect(pods.items[0].spec.nodeName).toBe(NODE);
    expect(pods.items[0].spec.containers[0].securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(node.running()).toContain(`${NS}/${pods.items[0].metadata.name}`);

    const before = (await json(['get', 'function', 'hello', '-n', NS])).status.codeSha256;
    await kubectl(
      ['apply', '-f', '-'],
      fnManifest('hello', 'export const handler = async () => ({ v: "two" })'),
    );
    await until(
      'new code in status',
      async () => (await json(['get', 'function', 'hello', '-n', NS])).status.codeSha256 !== before,
    );
    const second = await until('new code served', async () => {
      const r = await invoke('hello');
      return JSON.parse(r.body).v === 'two' ? r : undefined;
    });
    expect(second.status).toBe(200);
  });

  it('publishes versions as ControllerRevisions and routes a weighted Alias', async () => {
    await kubectl(['annotate', 'function', 'hello', '-n', NS, 'serval.dev/publish=1', '--overwrite']);
    await until(
      'version 1',
      async () => (await json(['get', 'function', 'hello', '-n', NS])).status.latestVersion === '1',
    );
    await kubectl(
      ['apply', '-f', '-'],
      fnManifest('hello', 'export const handler = async () => ({ v: "three" })'),
    );
    await until('code three', async () => JSON.parse((await invoke('hello')).body).v === 'three');
    await kubectl(['annotate', 'function', 'hello', '-n', NS, 'serval.dev/publish=2', '--overwrite']);
    await until(
      'version 2',
      async () => (await json(['get', 'function', 'hello', '-n', NS])).status.latestVersion === '2',
    );
    const revisions = await json(['get', 'controllerrevisions', '-n', NS, '-l', 'serval.dev/function=hello']);
    expect(revisions.items.map((r: { revision: number }) => r.revision).sort()).toEqual([1, 2]);

    const alias = aliasManifest(NS, 'hello-live', {
      name: 'live',
      functionName: 'hello',
      functionVersion: '1',
      routingConfig: { additionalVersionWeights: { '2': 0.3 } },
    });
    await kubectl(['apply', '-f', '-'], alias);
    await until('alias known to the gateway', async () => (await invoke('hello:live')).status === 200);
    const counts = { two: 0, three: 0 };
    for (let i = 0; i < 300; i++) {
      const r = await invoke('hello:live');
      expect(r.status).toBe(200);
      counts[JSON.parse(r.body).v as 'two' | 'three']++;
    }
    // Version 1 runs "two", version 2 runs "three"; 30 % ± 8 % over 300 calls.
    expect(counts.three / 300).toBeGreaterThan(0.22);
    expect(counts.three / 300).toBeLessThan(0.38);
  });

  it('recovers from an API server restart without restarting itself', async () => {
    await cluster.restartApiServer();
    await kubectl(
      ['apply', '-f', '-'],
      fnManifest('hello', 'export const handler = async () => ({ v: "after-restart" })'),
    );
    await until(
      'code after restart',
      async () => JSON.parse((await invoke('hello')).body).v === 'after-restart',
      90_000,
    );
  });

  it('a pod killed mid-invocation gives the caller a Lambda error, not a hang', async () => {
    await kubectl(
      ['apply', '-f', '-'],
      fnManifest(
        'slow',
        'export const handler = async () => { await new Promise((r) => setTimeout(r, 5000)); return "late"; }',
        { timeoutSeconds: 30 },
      ),
    );
    await until('slow Ready', async () =>
      (await json(['get', 'function', 'slow', '-n', NS])).status?.conditions?.some(
        (c: { status: string }) => c.status === 'True',
      ),
    );
    await until('slow warm', async () => (await invoke('slow')).status === 200); // the pod exists
    const pending = invoke('slow');
    await new Promise((r) => setTimeout(r, 1000));
    const pod = (await json(['get', 'pods', '-n', NS, '-l', 'serval.dev/function=slow'])).items.find(
      (p: { status: { phase: string } }) => p.status.phase === 'Running',
    );
    expect(node.crash(NS, pod.metadata.name)).toBe(true);
    const started = Date.now();
    const result = await pending;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result.status).toBe(200);
    expect(result.error).toBe('Unhandled');
    expect(JSON.parse(result.body).errorType).toMatch(/^(Runtime\.ExitError|Sandbox\.)/);
  });

  it('takes code from a URL only when its sha256 matches, from a ConfigMap, and env from a Secret', async () => {
    const source =
      'export const handler = async () => ({ from: "url", secret: process.env.API_KEY ?? null })';
    const server = createServer((_req, res) => res.end(source));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const href = `http://127.0.0.1:${(server.address() as { port: number }).port}/index.mjs`;
    const sha256 = createHash('sha256').update(source).digest('hex');
    try {
      await kubectl(['create', 'secret', 'generic', 'fn-secrets', '-n', NS, '--from-literal=API_KEY=s3cret']);
      const urlFn = (sha: string) =>
        stringify({
          apiVersion: 'serval.dev/v1alpha1',
          kind: 'Function',
          metadata: { name: 'from-url', namespace: NS },
          spec: {
            runtime: 'nodejs24.x',
            handler: 'index.handler',
            code: { url: { href, sha256: sha } },
            environmentFrom: [{ secretRef: { name: 'fn-secrets' } }],
          },
        });
      await kubectl(['apply', '-f', '-'], urlFn('0'.repeat(64)));
      const refused = await until('checksum refusal', async () => {
        const fn = await json(['get', 'function', 'from-url', '-n', NS]);
        return fn.status?.conditions?.find((c: { reason: string }) => c.reason === 'CodeChecksumMismatch');
      });
      expect(refused.message).toContain(`sha256 is ${sha256}`);
      const events = await json([
        'get',
        'events',
        '-n',
        NS,
        '--field-selector',
        'involvedObject.name=from-url',
      ]);
      expect(events.items.map((e: { reason: string }) => e.reason)).toContain('CodeChecksumMismatch');
      // An invocation of a function whose code was refused fails at once, saying why.
      await until('from-url known to the gateway', async () => (await invoke('from-url')).status !== 404);
      const started = Date.now();
      const refusedCall = await invoke('from-url');
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(refusedCall.status).toBe(502);
      expect(refusedCall.body).toContain('CodeChecksumMismatch');

      await kubectl(['apply', '-f', '-'], urlFn(sha256));
      const ok = await until('url code served', async () => {
        const r = await invoke('from-url');
        return r.status === 200 && r.error === null ? r : undefined;
      });
      expect(JSON.parse(ok.body)).toEqual({ from: 'url', secret: 's3cret' });
    } finally {
      server.close();
    }

    await kubectl([
      'create',
      'configmap',
      'cm-code',
      '-n',
      NS,
      '--from-literal=index.mjs=export const handler = async () => "from a ConfigMap"',
    ]);
    await kubectl(
      ['apply', '-f', '-'],
      stringify({
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Function',
        metadata: { name: 'from-cm', namespace: NS },
        spec: { runtime: 'nodejs24.x', handler: 'index.handler', code: { configMap: { name: 'cm-code' } } },
      }),
    );
    const fromCm = await until('configMap code served', async () => {
      const r = await invoke('from-cm');
      return r.status === 200 ? r : undefined;
    });
    expect(JSON.parse(fromCm.body)).toBe('from a ConfigMap');
  });

  it('serves its own metrics: reconciles, pods and leadership', async () => {
    const text = await (await fetch(`${controller.healthUrl}/metrics`)).text();
    expect(text).toMatch(/serval_controller_reconciles_total\{kind="function",result="success"\} [1-9]/);
    expect(text).toMatch(/serval_controller_pods_total\{action="created"\} [1-9]/);
    expect(text).toMatch(/serval_controller_leader 1/);
    expect(text).toContain('serval_controller_reconcile_duration_seconds_bucket');
    expect(text).toMatch(/process_resident_memory_bytes [1-9]/); // against the pod's memory limit
  });

  it.skipIf(!natsAvailable)(
    'an EventSourceMapping applied with kubectl feeds a pod-backed function, with status and the mapping API',
    async () => {
      const nats: TestNats = await startNats();
      const sink: HttpSink = await startHttpSink();
      try {
        const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
        const { connect } = await import('@nats-io/transport-node');
        const nc = await connect({ servers: nats.url });
        await (await jetstreamManager(nc)).streams.add({ name: 'JOBS', subjects: ['jobs.>'] });
        await kubectl(
          ['apply', '-f', '-'],
          fnManifest(
            'esm-worker',
            `export const handler = async (event) => {
              await fetch('${sink.url}/esm', { method: 'POST', body: JSON.stringify(event) });
              return {};
            };`,
          ),
        );
        const mapping = (enabled: boolean) =>
          stringify({
            apiVersion: 'serval.dev/v1alpha1',
            kind: 'EventSourceMapping',
            metadata: { name: 'jobs', namespace: NS },
            spec: {
              functionName: 'esm-worker',
              source: { nats: { url: nats.url, subject: 'jobs.>', stream: 'JOBS' } },
              batchSize: 5,
              enabled,
            },
          });
        await kubectl(['apply', '-f', '-'], mapping(true));
        await jetstream(nc).publish('jobs.one', '{"job":1}');
        const [request] = await sink.waitFor('/esm', 1, 120_000);
        const event = JSON.parse(request!.body) as { Records: Array<{ nats: { data: string } }> };
        expect(Buffer.from(event.Records[0]!.nats.data, 'base64').toString()).toBe('{"job":1}');

        const esm = await until('the mapping status', async () => {
          const o = await json(['get', 'esm', 'jobs', '-n', NS]);
          return o.status?.lastProcessingResult === 'OK' ? o : undefined;
        });
        expect(esm.status).toMatchObject({
          observedGeneration: esm.metadata.generation,
          sourceKind: 'nats',
          state: 'Enabled',
          conditions: expect.arrayContaining([
            expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Polling' }),
            expect.objectContaining({ type: 'SourceConnected', status: 'True' }),
          ]),
        });
        const table = await kubectl(['get', 'esm', 'jobs', '-n', NS]);
        expect(table).toMatch(/esm-worker\s+nats\s+true\s+Enabled\s+True/);
        // The mapping API shows the same mapping, its UUID the resource's uid.
        const listed = (await (
          await fetch(
            `${rig.gateway.url}/2015-03-31/event-source-mappings/?FunctionName=${NS}:function:esm-worker`,
          )
        ).json()) as {
          EventSourceMappings: Array<{ UUID: string; State: string; LastProcessingResult: string }>;
        };
        expect(listed.EventSourceMappings).toEqual([
          expect.objectContaining({ UUID: esm.metadata.uid, State: 'Enabled', LastProcessingResult: 'OK' }),
        ]);

        // The broker goes away: a Warning Event and the condition say so, and the gateway carries on.
        await nc.close();
        await nats.stop();
        const warning = await until('the SourceUnreachable Event', async () => {
          const events = await json([
            'get',
            'events',
            '-n',
            NS,
            '--field-selector',
            'involvedObject.name=jobs',
          ]);
          return (events.items as Array<{ reason: string; type: string }>).find(
            (e) => e.reason === 'SourceUnreachable',
          );
        });
        expect(warning.type).toBe('Warning');
        const down = await json(['get', 'esm', 'jobs', '-n', NS]);
        expect(down.status.conditions).toEqual(
          expect.arrayContaining([
            expect.objectContaining({
              type: 'SourceConnected',
              status: 'False',
              reason: 'SourceUnreachable',
            }),
          ]),
        );

        await kubectl(['apply', '-f', '-'], mapping(false));
        await until('Disabled', async () => {
          const o = await json(['get', 'esm', 'jobs', '-n', NS]);
          return o.status?.state === 'Disabled' && o.status.observedGeneration === o.metadata.generation
            ? o
            : undefined;
        });
        await kubectl(['delete', 'esm', 'jobs', '-n', NS]);

        // What CEL cannot check, the filter grammar, is refused on the status with the field named.
        await kubectl(
          ['apply', '-f', '-'],
          stringify({
            apiVersion: 'serval.dev/v1alpha1',
            kind: 'EventSourceMapping',
            metadata: { name: 'bad-filter', namespace: NS },
            spec: {
              functionName: 'esm-worker',
              source: { nats: { url: nats.url, subject: 'jobs.>', stream: 'JOBS' } },
              filterCriteria: { filters: [{ pattern: '{"data":{"n":[{"numeric":[">"]}]}}' }] },
            },
          }),
        );
        const bad = await until('the invalid filter on the status', async () => {
          const o = await json(['get', 'esm', 'bad-filter', '-n', NS]);
          return o.status?.conditions ? o : undefined;
        });
        expect(bad.status.conditions).toEqual([
          expect.objectContaining({ type: 'Ready', status: 'False', reason: 'InvalidSpec' }),
        ]);
        expect(bad.status.lastProcessingResult).toContain(
          'spec.filterCriteria.filters[0].pattern: data.n[0].numeric',
        );
        await kubectl(['delete', 'esm', 'bad-filter', '-n', NS]);
      } finally {
        await sink.close();
        await nats.stop();
      }
    },
    180_000,
  );

  it('two controller replicas: one leads, and the other takes over when it stops', async () => {
    const second = await startController(controllerKc, controllerConfig('controller-1'), (l) =>
      log.push(`controller-1: ${l}`),
    );
    await new Promise((r) => setTimeout(r, 1500));
    expect(controller.isLeader()).toBe(true);
    expect(second.isLeader()).toBe(false);
    await controller.stop();
    controller = second;
    rig.controller = second;
    await until('the second replica leads', async () => second.isLeader(), 30_000);
    const lease = await json(['get', 'lease', 'serval-controller', '-n', 'serval-system']);
    expect(lease.spec.holderIdentity).toBe('controller-1');
  });

  it('deleting a Function removes its pods, revisions and code', async () => {
    await kubectl(['delete', 'function', 'hello', '-n', NS, '--wait=false']);
    await until(
      'function gone',
      async () => (await cluster.kubectl(['get', 'function', 'hello', '-n', NS])).code !== 0,
    );
    const left = async (kind: string) =>
      (await json(['get', kind, '-n', NS, '-l', 'serval.dev/function=hello'])).items.length;
    await until('pods gone', async () => (await left('pods')) === 0);
    expect(await left('controllerrevisions')).toBe(0);
    expect(await left('configmaps')).toBe(0);
    expect((await invoke('hello')).status).toBe(404);
  });
});
