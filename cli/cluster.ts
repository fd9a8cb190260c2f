// `serval gateway` and `serval controller`: the two processes of a cluster install (charts/serval). Both
// find the API server through KUBECONFIG, or the pod's ServiceAccount in a cluster.

import { parseControllerConfig } from '../controller/config.ts';
import { startController } from '../controller/controller.ts';
import type { GatewayConfig } from '../gateway/src/config.ts';
import { KubernetesMappingCatalog } from '../gateway/src/event-sources/kubernetes-catalog.ts';
import { startGateway } from '../gateway/src/gateway.ts';
import { DemandProvider } from '../gateway/src/providers/kubernetes/demand-provider.ts';
import { FunctionRegistry } from '../gateway/src/registry/function-registry.ts';
import { KubernetesCatalog } from '../gateway/src/registry/kubernetes-catalog.ts';
import { KubernetesWrites } from '../gateway/src/registry/kubernetes-writes.ts';
import { loadKubeConfig } from '../kube/client.ts';
import { ClusterConfigError } from './cluster-config-error.ts';

export { ClusterConfigError };

export async function clusterGateway(config: GatewayConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const linkKey = env.SERVAL_LINK_KEY;
  if (!linkKey)
    throw new ClusterConfigError('SERVAL_LINK_KEY is required (the chart sets it from its Secret)');
  const log = (line: string) => process.stderr.write(`serval-gateway: ${line}\n`);
  const kc = loadKubeConfig(env);
  const registry = new FunctionRegistry();
  const catalog = new KubernetesCatalog(kc, registry, log);
  await catalog.start(Number(env.SERVAL_RESYNC_SECONDS ?? 60) * 1000);
  const mappings = new KubernetesMappingCatalog(kc, log);
  await mappings.start(Number(env.SERVAL_RESYNC_SECONDS ?? 60) * 1000);
  const demand = new DemandProvider();
  const gateway = await startGateway({
    config,
    registry,
    provider: demand,
    log,
    cluster: {
      versions: catalog,
      aliases: catalog.aliasSource(),
      demand,
      linkKey,
      eventSourceMappings: mappings,
      functions: new KubernetesWrites(kc, catalog),
    },
  });
  process.stdout.write(`Serval gateway (cluster mode) is listening on ${gateway.url}\n`);
  const stop = async () => {
    await gateway.close();
    await catalog.stop();
    await mappings.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

export async function clusterController(env: NodeJS.ProcessEnv): Promise<void> {
  const config = parseControllerConfig(env);
  const log = (line: string) =>
    process.stderr.write(
      `${JSON.stringify({ time: new Date().toISOString(), component: 'serval-controller', msg: line })}\n`,
    );
  const controller = await startController(loadKubeConfig(env), config, log);
  process.stdout.write(`Serval controller ${config.identity} started\n`);
  const stop = async () => {
    await controller.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
