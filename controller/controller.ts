// Assembles the controller: leader election, informers on Functions and Aliases feeding one work queue,
// the Function reconciler, the pod loop that follows the gateway's demand, and a health endpoint.
import { createServer, type Server } from 'node:http';
import { isDeepStrictEqual } from 'node:util';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { AliasSpecSchema } from '../apis/alias.ts';
import { systemClock } from '../gateway/src/deployments/clock.ts';
import { type RunningInformer, startInformer } from '../kube/informer.ts';
import { requestJson } from '../kube/request.ts';
import { type AliasObject, aliasesPath, type FunctionObject, functionsPath } from '../kube/resources.ts';
import type { ControllerConfig } from './config.ts';
import { ClusterDeployments } from './deployments/cluster-deployments.ts';
import { FunctionReconciler } from './function-reconciler.ts';
import { LeaderElection } from './leader-election.ts';
import { ControllerMetrics } from './metrics.ts';
import { PodConverger } from './pods.ts';
import { ProvisionedReports, provisionedStatus } from './provisioned-status.ts';
import { setCondition } from './status.ts';
import { WorkQueue } from './work-queue.ts';

export interface RunningController {
  isLeader(): boolean;
  /** Where /healthz and /metrics answer. */
  healthUrl: string;
  stop(): Promise<void>;
}

export async function startController(
  kc: KubeConfig,
  config: ControllerConfig,
  log: (line: string) => void,
): Promise<RunningController> {
  const metrics = new ControllerMetrics();
  const functions = new FunctionReconciler(kc, config.functionUrlDomain);
  const pods = new PodConverger(kc, config, log, (action) => metrics.pod(action));
  const provisioned = new ProvisionedReports();
  const deployments = new ClusterDeployments({
    kc,
    clock: systemClock(config.deploymentTimeScale),
    config,
    registry: metrics.registry,
    log,
  });
  let leading = false;
  let informers: RunningInformer<FunctionObject | AliasObject>[] = [];
  let podLoop: NodeJS.Timeout | undefined;
  let queue: WorkQueue | undefined;

  const lead = () => {
    leading = true;
    metrics.leading(true);
    queue = new WorkQueue(async (key) => {
      const [kind, namespace, name] = key.split('/') as [string, string, string];
      await metrics.reconcile(kind, () =>
        kind === 'function'
          ? functions.reconcile(namespace, name)
          : reconcileAlias(kc, namespace, name, deployments, provisioned),
      );
    }, log);
    const q = queue;
    // The reconcilers read each object fresh: the caches only need to know which objects exist.
    const opts = { log, resyncMs: config.resyncMs, transform: identity };
    const keyOf = (kind: string, o: { metadata?: { namespace?: string; name?: string } }) =>
      `${kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
    informers = [
      startInformer<FunctionObject>(
        kc,
        functionsPath(),
        { upsert: (o) => q.add(keyOf('function', o)), remove: () => undefined },
        opts,
      ),
      startInformer<AliasObject>(
        kc,
        aliasesPath(),
        { upsert: (o) => q.add(keyOf('alias', o)), remove: () => undefined },
        opts,
      ),
    ];
    pods.start(config.resyncMs);
    const loop = async () => {
      if (!leading) return;
      await pods.converge().catch((err) => log(`pods: ${err instanceof Error ? err.message : String(err)}`));
      // An allocation that moved is written on its Alias's status (ADR-51).
      for (const key of provisioned.update(pods.provisioned)) q.add(`alias/${key}`);
      if (leading) podLoop = setTimeout(() => void loop(), config.demandPollMs);
    };
    void loop();
  };
  const follow = () => {
    leading = false;
    metrics.leading(false);
    queue?.stop();
    clearTimeout(podLoop);
    for (const i of informers) void i.stop();
    informers = [];
    void pods.stop();
    void deployments.interruptAll();
  };

  const election = new LeaderElection(kc, config.leaseNamespace, 'serval-controller', config.identity, log);
  election.run(lead, follow);
  const health = await listenHealth(config.healthPort, metrics);

  return {
    isLeader: () => leading,
    healthUrl: `http://127.0.0.1:${(health.address() as { port: number }).port}`,
    async stop() {
      follow();
      await deployments.interruptAll();
      await election.stop();
      await new Promise((r) => health.close(r));
    },
  };
}

function identity<T extends KubernetesObject>(o: T): T {
  const { namespace, name, uid, resourceVersion } = o.metadata ?? {};
  return { metadata: { namespace, name, uid, resourceVersion } } as unknown as T;
}

/**
 * An Alias is valid when its versions are published; the gateway routes by it either way. Its
 * `spec.deployment`, if any, is driven by `deployments`.
 */
async function reconcileAlias(
  kc: KubeConfig,
  namespace: string,
  name: string,
  deployments: ClusterDeployments,
  provisioned: ProvisionedReports,
): Promise<void> {
  const path = `${aliasesPath().replace('/aliases', `/namespaces/${namespace}/aliases`)}/${name}`;
  const alias = (await requestJson(kc, path).catch(() => undefined)) as AliasObject | undefined;
  if (!alias) return;
  const parsed = AliasSpecSchema.safeParse(alias.spec);
  let message = '';
  let fn: FunctionObject | undefined;
  if (!parsed.success)
    message = `spec.${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`;
  else {
    fn = (await requestJson(kc, `${functionsPath(namespace)}/${parsed.data.functionName}`).catch(
      () => undefined,
    )) as FunctionObject | undefined;
    const published = new Set((fn?.status?.versions ?? []).map((v) => v.version));
    const wanted = [
      parsed.data.functionVersion,
      ...Object.keys(parsed.data.routingConfig?.additionalVersionWeights ?? {}),
    ];
    const missing = wanted.filter((v) => v !== '$LATEST' && !published.has(v));
    if (!fn) message = `spec.functionName: function ${namespace}/${parsed.data.functionName} not found`;
    else if (missing.length > 0)
      message = `spec: version(s) ${missing.join(', ')} of ${parsed.data.functionName} are not published`;
  }
  let conditions = setCondition(alias.status?.conditions, {
    type: 'Ready',
    status: message ? 'False' : 'True',
    reason: message ? 'InvalidTarget' : 'Ready',
    message: message || 'routing',
    observedGeneration: alias.metadata?.generation,
  });
  // Provisioned concurrency: the gateway keeps the environments and reports their allocation (ADR-51).
  const had =
    (alias.status as { provisionedConcurrency?: unknown } | undefined)?.provisionedConcurrency ?? null;
  let pc: unknown = null;
  if (!parsed.success || parsed.data.provisionedConcurrency === undefined)
    conditions = conditions.filter((c) => c.type !== 'ProvisionedConcurrency');
  else if (!provisioned.heard)
    pc = had; // this controller just started: what the status says stands
  else {
    const { condition, status } = provisionedStatus(
      parsed.data,
      provisioned.get(namespace, name),
      alias.metadata?.generation,
      message || undefined,
    );
    conditions = setCondition(conditions, condition);
    pc = status;
  }
  if (
    JSON.stringify(conditions) !== JSON.stringify(alias.status?.conditions) ||
    !isDeepStrictEqual(pc, had)
  ) {
    await requestJson(kc, `${path}/status`, {
      method: 'PATCH',
      // null removes the field (a merge patch), once the configuration is gone.
      body: {
        status: { conditions, observedGeneration: alias.metadata?.generation, provisionedConcurrency: pc },
      },
      contentType: 'application/merge-patch+json',
    });
  }
  if (parsed.success) await deployments.reconcile(alias, parsed.data, fn);
}

function listenHealth(port: number, metrics: ControllerMetrics): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz' || req.url === '/readyz') res.writeHead(200).end('ok\n');
    else if (req.url === '/metrics') {
      void metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text));
    } else res.writeHead(404).end();
  });
  return new Promise((resolve) => server.listen(port, '0.0.0.0', () => resolve(server)));
}
