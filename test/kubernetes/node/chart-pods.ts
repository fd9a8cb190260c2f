// The chart's gateway and controller as real pods on the real node, from the serval image. helm renders the
// chart; everything but the Deployments is applied as it is. The rig has no controller-manager (which would
// turn a Deployment into pods), no ServiceAccount admission (which would mount the token), no kube-proxy and
// no DNS (which would make Services reachable), so this does what they would, and nothing more:
//   - each Deployment's pod template becomes one Pod, bound to the node;
//   - the ServiceAccount token and the API server's CA are mounted where in-cluster clients look;
//   - KUBERNETES_SERVICE_HOST/PORT name a proxy on the node's address that forwards to the API server;
//   - the controller's gateway URLs name the gateway pod's IP instead of its Service.
import { execFileSync } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import type { V1Container, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { REPO_ROOT } from '../../support/serval.ts';
import { binaries } from '../cluster.ts';
import { NODE, type ServalRig } from '../rig.ts';
import type { RealNode } from './real-node.ts';

const NAMESPACE = 'serval-system';

export interface ChartPods {
  /** The gateway pod's front door, http://<pod IP>:8080. */
  gatewayUrl: string;
  pods: { gateway: string; controller: string };
  stop(): Promise<void>;
}

/** Forwards the node's address to the API server on loopback, as the `kubernetes` Service would. */
async function apiProxy(host: string, server: string): Promise<{ port: number; close(): Promise<void> }> {
  const target = new URL(server);
  const open = new Set<Socket>();
  const proxy: Server = createServer((client) => {
    const upstream = createConnection(Number(target.port), target.hostname);
    open.add(client).add(upstream);
    client.once('close', () => open.delete(client));
    upstream.once('close', () => open.delete(upstream));
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => proxy.listen(0, host, resolve));
  return {
    port: (proxy.address() as { port: number }).port,
    close: () =>
      new Promise((resolve) => {
        proxy.close(() => resolve());
        for (const s of open) s.destroy(); // watches stay open until they are cut
      }),
  };
}

function asPod(deployment: any, apiHost: string, apiPort: number, envFor: (c: V1Container) => void): V1Pod {
  const template = deployment.spec.template;
  const spec: V1PodSpec = structuredClone(template.spec);
  spec.nodeName = NODE;
  spec.volumes = [
    ...(spec.volumes ?? []),
    {
      name: 'kube-api-access',
      projected: {
        sources: [
          { serviceAccountToken: { path: 'token', expirationSeconds: 3600 } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
        ],
      },
    },
  ];
  for (const c of spec.containers) {
    c.volumeMounts = [
      ...(c.volumeMounts ?? []),
      { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    ];
    c.env = [
      ...(c.env ?? []),
      { name: 'KUBERNETES_SERVICE_HOST', value: apiHost },
      { name: 'KUBERNETES_SERVICE_PORT', value: String(apiPort) },
    ];
    envFor(c);
  }
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${deployment.metadata.name}-0`,
      namespace: NAMESPACE,
      labels: template.metadata.labels,
    },
    spec,
  };
}

export async function deployChartPods(rig: ServalRig<RealNode>): Promise<ChartPods> {
  await rig.node.servalImage;
  const proxy = await apiProxy(rig.node.ip, rig.cluster.server);
  await rig.kubectl(
    ['apply', '-f', '-'],
    stringify({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-root-ca.crt', namespace: NAMESPACE },
      data: { 'ca.crt': rig.cluster.servingCa },
    }),
  );
  const rendered = execFileSync(
    binaries.helm,
    [
      'template',
      'serval',
      join(REPO_ROOT, 'charts/serval'),
      '-n',
      NAMESPACE,
      '--set',
      'image.repository=localhost/serval,image.tag=test',
      '--set',
      'runtimeImage.repository=localhost/serval-runtime,runtimeImage.tag=test',
      '--set',
      'controller.replicas=1',
      // Function pods too are bound to the node, there being no scheduler.
      '--set',
      `controller.extraEnv[0].name=SERVAL_POD_NODE_NAME,controller.extraEnv[0].value=${NODE}`,
    ],
    { encoding: 'utf8' },
  );
  const docs = parseAllDocuments(rendered)
    .map((d) => d.toJS())
    .filter(Boolean);
  await rig.kubectl(
    ['apply', '-f', '-'],
    docs
      .filter((d) => d.kind !== 'Deployment')
      .map((d) => stringify(d))
      .join('---\n'),
  );
  const deployment = (component: string) =>
    docs.find((d) => d.kind === 'Deployment' && d.metadata.name.endsWith(`-${component}`));
  const podReady = (name: string) =>
    rig
      .until(
        `pod ${name} Ready`,
        async () => {
          const pod = await rig.json(['get', 'pod', name, '-n', NAMESPACE]);
          const ready = pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
          return ready ? (pod as V1Pod) : undefined;
        },
        180_000,
      )
      .catch((err) => {
        throw new Error(`${err.message}\n${name}'s log:\n${rig.node.podLog(NAMESPACE, name).slice(-4000)}`);
      });

  const gatewayPod = asPod(deployment('gateway'), rig.node.ip, proxy.port, () => undefined);
  await rig.kubectl(['apply', '-f', '-'], stringify(gatewayPod));
  const gateway = await podReady(gatewayPod.metadata!.name!);
  const gatewayIp = gateway.status!.podIP!;

  const controllerPod = asPod(deployment('controller'), rig.node.ip, proxy.port, (c) => {
    for (const e of c.env ?? []) {
      if (e.name === 'SERVAL_GATEWAY_URL' || e.name === 'SERVAL_LINK_URL') {
        const url = new URL(e.value!);
        url.hostname = gatewayIp;
        e.value = url.toString().replace(/\/$/, '');
      }
    }
  });
  // As JSON: YAML 1.2 writes the string "on" (SERVAL_NODE_IN_PROCESS) plain, which kubectl's YAML 1.1 reads as true.
  await rig.kubectl(['apply', '-f', '-'], JSON.stringify(controllerPod));
  await podReady(controllerPod.metadata!.name!);

  return {
    gatewayUrl: `http://${gatewayIp}:8080`,
    pods: { gateway: gatewayPod.metadata!.name!, controller: controllerPod.metadata!.name! },
    async stop() {
      await rig
        // Not waited for: the node's stop() waits for every pod on it anyway.
        .kubectl(['delete', 'pods', '-n', NAMESPACE, '--all', '--grace-period=5', '--wait=false'])
        .catch(() => undefined);
      await proxy.close();
    },
  };
}
