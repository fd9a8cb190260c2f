// Serval on the test control plane, as the end-to-end tests use it: the CRDs and the chart's RBAC (rendered
// by helm), the gateway in cluster mode and the controller each under their chart ServiceAccount, and the
// test node agent running the pods. Each test file starts its own.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { type ControllerConfig, parseControllerConfig } from '../../controller/config.ts';
import { type RunningController, startController } from '../../controller/controller.ts';
import { parseGatewayConfig } from '../../gateway/src/config.ts';
import { KubernetesMappingCatalog } from '../../gateway/src/event-sources/kubernetes-catalog.ts';
import { type RunningGateway, startGateway } from '../../gateway/src/gateway.ts';
import { DemandProvider } from '../../gateway/src/providers/kubernetes/demand-provider.ts';
import { buildShims } from '../../gateway/src/providers/local/shim-build.ts';
import { FunctionRegistry } from '../../gateway/src/registry/function-registry.ts';
import { KubernetesCatalog } from '../../gateway/src/registry/kubernetes-catalog.ts';
import { KubernetesWrites } from '../../gateway/src/registry/kubernetes-writes.ts';
import { freePort } from '../support/free-port.ts';
import { REPO_ROOT, testDataRoot } from '../support/serval.ts';
import { binaries, type Cluster, clusterAvailable, startCluster } from './cluster.ts';
import { planRealNode, type RealNode, RUNTIME_IMAGE, startRealNode } from './node/real-node.ts';
import { type NodeAgent, startNodeAgent } from './node-agent.ts';

export const NODE = 'serval-test-node';
const LINK_KEY = 'test-link-key-0123456789abcdef';

/** A Node.js Function manifest with inline code, for kubectl apply. */
export function functionManifest(
  namespace: string,
  name: string,
  code: string,
  spec: Record<string, unknown> = {},
): string {
  return stringify({
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'Function',
    metadata: { name, namespace },
    spec: {
      runtime: 'nodejs24.x',
      handler: 'index.handler',
      code: { inline: { 'index.mjs': code } },
      ...spec,
    },
  });
}

/** An Alias manifest; the object is named apart from the alias, as two functions may each want `live`. */
export function aliasManifest(namespace: string, objectName: string, spec: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'serval.dev/v1alpha1',
    kind: 'Alias',
    metadata: { name: objectName, namespace },
    spec,
  });
}

/** The rig needs helm (for the chart's RBAC) as well as the control plane. */
export const rigAvailable = clusterAvailable && existsSync(binaries.helm);

export interface ServalRig<Node = NodeAgent> {
  cluster: Cluster;
  gateway: RunningGateway;
  controller: RunningController;
  /** The stand-in kubelet (node-agent.ts), or with `realNode` the real one (node/real-node.ts). */
  node: Node;
  controllerKc: KubeConfig;
  controllerConfig(identity: string): ControllerConfig;
  log: string[];
  kubectl(args: string[], input?: string): Promise<string>;
  json(args: string[]): Promise<any>;
  invoke(
    namespace: string,
    name: string,
    payload?: unknown,
  ): Promise<{ status: number; error: string | null; body: string; headers: Headers }>;
  until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/**
 * `controllerEnv`: more controller settings, e.g. SERVAL_DEPLOYMENT_TIME_SCALE. `helmValues`: `--set` values
 * for the chart whose RBAC the rig applies, e.g. `gateway.eventSourceSecrets.namespaces={ns}`.
 */
export async function startServalRig(
  namespaces: string[],
  options?: { controllerEnv?: NodeJS.ProcessEnv; helmValues?: string[] },
): Promise<ServalRig>;
export async function startServalRig(
  namespaces: string[],
  options: { realNode: true; controllerEnv?: NodeJS.ProcessEnv; helmValues?: string[] },
): Promise<ServalRig<RealNode>>;
export async function startServalRig(
  namespaces: string[],
  options: { realNode?: boolean; controllerEnv?: NodeJS.ProcessEnv; helmValues?: string[] } = {},
): Promise<ServalRig<NodeAgent | RealNode>> {
  const work = mkdtempSync(join(testDataRoot(), 'k8s-e2e-'));
  const plan = options.realNode ? planRealNode() : undefined;
  const cluster = await startCluster({ servingIPs: plan ? [plan.ip] : [] });
  let realNode: RealNode | undefined;
  try {
    // A real node comes first: pods dial the gateway at the node's bridge address, which must exist.
    if (plan) {
      realNode = await startRealNode({
        plan,
        name: NODE,
        kubeconfigPath: cluster.kubeconfigPath,
        workDir: join(work, 'node'),
      });
    }
    return await assembleRig(namespaces, work, cluster, realNode, options.controllerEnv, options.helmValues);
  } catch (err) {
    // A half-started real node holds a bridge, mounts and sysctls: never leave them behind.
    await realNode?.stop();
    await cluster.stop();
    throw err;
  }
}

async function assembleRig(
  namespaces: string[],
  work: string,
  cluster: Cluster,
  realNode: RealNode | undefined,
  controllerEnv: NodeJS.ProcessEnv = {},
  helmValues: string[] = [],
): Promise<ServalRig<NodeAgent | RealNode>> {
  const log: string[] = [];
  const internalHost = realNode?.ip ?? '127.0.0.1';
  const kubectl = async (args: string[], input?: string) => {
    const r = await cluster.kubectl(args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  await kubectl(['apply', '-f', join(REPO_ROOT, 'charts/serval/crds')]);
  await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  for (const ns of ['serval-system', ...namespaces]) await kubectl(['create', 'namespace', ns]);
  // The chart's own ServiceAccounts and RBAC, exactly as helm renders them.
  const helm = execFileSync(
    binaries.helm,
    [
      'template',
      'serval',
      join(REPO_ROOT, 'charts/serval'),
      '-n',
      'serval-system',
      ...helmValues.flatMap((v) => ['--set', v]),
    ],
    { encoding: 'utf8' },
  );
  const rbacKinds = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
  const rbac = parseAllDocuments(helm)
    .map((d) => d.toJS())
    .filter((d) => d && rbacKinds.includes(d.kind));
  await kubectl(['apply', '-f', '-'], rbac.map((d) => stringify(d)).join('---\n'));
  const accounts = rbac.filter((d) => d.kind === 'ServiceAccount').map((d) => d.metadata.name as string);
  const asAccount = async (sa: string) => {
    const kc = new KubeConfig();
    kc.loadFromString(await cluster.serviceAccountKubeconfig('serval-system', sa));
    return kc;
  };
  const admin = new KubeConfig();
  admin.loadFromString(cluster.kubeconfig);

  const internalPort = await freePort();
  const registry = new FunctionRegistry();
  const gatewayKc = await asAccount(accounts.find((n) => n.includes('gateway'))!);
  const catalog = new KubernetesCatalog(gatewayKc, registry, (l) => log.push(`gateway: ${l}`));
  await catalog.start(5000);
  const mappings = new KubernetesMappingCatalog(
    await asAccount(accounts.find((n) => n.includes('gateway'))!),
    (l) => log.push(`gateway: ${l}`),
  );
  await mappings.start(5000);
  const demand = new DemandProvider();
  const gateway = await startGateway({
    config: parseGatewayConfig(
      {},
      { port: 0, internalHost, internalPort, dataDir: join(work, 'gateway'), metrics: 'off' },
    ),
    registry,
    provider: demand,
    log: (l) => log.push(`gateway: ${l}`),
    cluster: {
      versions: catalog,
      aliases: catalog.aliasSource(),
      demand,
      linkKey: LINK_KEY,
      eventSourceMappings: mappings,
      functions: new KubernetesWrites(gatewayKc, catalog),
    },
  });
  const controllerKc = await asAccount(accounts.find((n) => n.includes('controller'))!);
  const controllerConfig = (identity: string) =>
    parseControllerConfig({
      SERVAL_GATEWAY_URL: `http://${internalHost}:${internalPort}`,
      SERVAL_LINK_URL: `ws://${internalHost}:${internalPort}`,
      SERVAL_LINK_KEY: LINK_KEY,
      SERVAL_RUNTIME_IMAGE: RUNTIME_IMAGE,
      SERVAL_LEASE_NAMESPACE: 'serval-system',
      SERVAL_HEALTH_PORT: '0',
      SERVAL_POD_NODE_NAME: NODE,
      SERVAL_RESYNC_SECONDS: '5',
      // The stand-in node has no cgroups to resize: its pods get their proportional CPU from the start.
      ...(realNode ? {} : { SERVAL_INIT_CPU_MILLICORES: '0' }),
      ...controllerEnv,
      POD_NAME: identity,
    });
  const controller = await startController(controllerKc, controllerConfig('controller-0'), (l) =>
    log.push(`controller: ${l}`),
  );
  const node =
    realNode ??
    (await startNodeAgent({
      kc: admin,
      nodeName: NODE,
      // The runtime image's /opt/serval: the shims as JavaScript, as the Dockerfile's shims stage builds them.
      imageRoot: buildShims(REPO_ROOT, process.env.SERVAL_CACHE ?? join(homedir(), '.cache', 'serval')).root,
      workDir: join(work, 'node'),
    }));

  const until = async <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined && value !== false) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${log.slice(-20).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await until('leadership', async () => controller.isLeader());

  const rig: ServalRig<NodeAgent | RealNode> = {
    cluster,
    gateway,
    controller,
    node,
    controllerKc,
    controllerConfig,
    log,
    kubectl,
    json: async (args) => JSON.parse(await kubectl([...args, '-o', 'json'])),
    async invoke(namespace, name, payload = {}) {
      const res = await fetch(
        `${gateway.url}/2015-03-31/functions/${encodeURIComponent(`${namespace}:function:${name}`)}/invocations`,
        { method: 'POST', body: JSON.stringify(payload) },
      );
      return {
        status: res.status,
        error: res.headers.get('x-amz-function-error'),
        body: await res.text(),
        headers: res.headers,
      };
    },
    until,
    async stop() {
      await rig.controller.stop();
      await node.stop();
      await gateway.close();
      await catalog.stop();
      await mappings.stop();
      await cluster.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
  return rig;
}
