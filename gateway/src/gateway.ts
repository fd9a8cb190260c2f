// Assembles the gateway: the front door, the dispatcher, the environment link listener and a provider.

import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import express from 'express';
import type { CodeSigningConfig } from '../../apis/code-signing.ts';
import { ConcurrencyLimits } from './admission/concurrency-limits.ts';
import { AsyncWorker } from './async/async-worker.ts';
import { Destinations } from './async/destinations.ts';
import { NatsLink } from './async/nats-link.ts';
import { openEventQueue } from './async/open-queue.ts';
import { AccessKeys } from './auth/access-keys/access-keys.ts';
import { Authorizer } from './auth/authorizer.ts';
import { controlPlaneGuard } from './auth/control-plane-guard.ts';
import { signatureAuthentication } from './auth/signed-requests.ts';
import { CodeSigningGate } from './code-signing/gate.ts';
import type { GatewayConfig } from './config.ts';
import { preparePrivateDataDir } from './data-dir.ts';
import { systemClock } from './deployments/clock.ts';
import { registryCounters } from './deployments/counters.ts';
import { invokerHooks } from './deployments/hooks.ts';
import { deploymentInternalApi } from './deployments/internal-api.ts';
import { LocalDeployments } from './deployments/local-deployments.ts';
import { DeploymentMetrics } from './deployments/metrics.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { environmentLauncher } from './dispatch/environment-launcher.ts';
import { isPrewarming, PrewarmPool } from './dispatch/prewarm-pool.ts';
import type { DeclaredMapping, MappingCatalog } from './event-sources/catalog.ts';
import { createEventSources } from './event-sources/event-sources.ts';
import { controlApiRoutes } from './front-door/control-api/routes.ts';
import { deploymentRoutes } from './front-door/deployments/routes.ts';
import { errorMiddleware, unknownOperation } from './front-door/error-middleware.ts';
import { eventSourceMappingRoutes } from './front-door/event-source-mappings/routes.ts';
import { functionUrlRoutes } from './front-door/function-urls/routes.ts';
import { invokeApiRoutes } from './front-door/invoke-api/routes.ts';
import { loadBalancerRoutes } from './front-door/load-balancer/routes.ts';
import { accessKeyRoutes } from './front-door/operator-api/access-keys.ts';
import { operatorApiRoutes } from './front-door/operator-api/routes.ts';
import { guardListener, listenerOptions } from './http/listener-guard.ts';
import { Invoker } from './invocation/invoker.ts';
import { LineageKey } from './invocation/lineage.ts';
import { asyncMetricsObserver } from './observability/async-observer.ts';
import { frontDoorSpan } from './observability/front-door-span.ts';
import { createObservability, type ObservabilityOverrides } from './observability/observability.ts';
import { provisionedGauges } from './observability/provisioned-gauges.ts';
import type { DemandProvider } from './providers/kubernetes/demand-provider.ts';
import type { EnvironmentProvider } from './providers/provider.ts';
import { ClusterProvisionedStore, provisionedReports } from './provisioned/cluster-store.ts';
import { ProvisionedConcurrency } from './provisioned/provisioned-concurrency.ts';
import { ProvisionedConfigStore } from './provisioned/provisioned-store.ts';
import { ApiFunctionStore, apiDefinition } from './registry/api-functions.ts';
import type { FunctionRegistry } from './registry/function-registry.ts';
import type { KubernetesWrites } from './registry/kubernetes-writes.ts';
import { LayerStore } from './registry/layer-store.ts';
import type { LoadedAlias } from './registry/manifest-loader.ts';
import { type InternalHandler, internalRoutes } from './runtime-link/internal-routes.ts';
import { LinkServer } from './runtime-link/link-server.ts';
import { withReusedReads } from './runtime-link/reused-reads.ts';
import { AliasStore } from './versions/alias-store.ts';
import type { AliasSource, VersionSource } from './versions/sources.ts';
import { VersionStore } from './versions/version-store.ts';

export interface GatewayDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  provider: EnvironmentProvider;
  /** The gateway's own operational log. */
  log: (line: string) => void;
  /** CodeSigningConfigs declared in manifests (local mode), which functions' `spec.codeSigning` names. */
  codeSigningConfigs?: CodeSigningConfig[];
  /** Aliases declared in manifests; they replace stored aliases of the same name. */
  aliases?: LoadedAlias[];
  /** Event source mappings declared in manifests (local mode). */
  eventSourceMappings?: DeclaredMapping[];
  /** Cluster mode: versions and aliases from the API server, pods through the controller's demand list. */
  cluster?: {
    versions: VersionSource;
    aliases: AliasSource;
    demand: DemandProvider;
    /** Shared with the controller: it authenticates the controller's reads of the demand list. */
    linkKey: string;
    /** EventSourceMapping resources; the catalog also writes their status and Events. */
    eventSourceMappings?: MappingCatalog;
    /** Writes Function and Alias resources for the control-plane API (ADR-39); absent, it only reads. */
    functions?: KubernetesWrites;
  };
  /** An in-memory span exporter or a caller-held metrics instance (tests, benchmarks). */
  observability?: ObservabilityOverrides;
}

export interface RunningGateway {
  url: string;
  /** Prometheus scrape URL on the metrics listener; absent with metrics off. */
  metricsUrl?: string | undefined;
  close(): Promise<void>;
}

export async function startGateway({
  config,
  registry,
  provider,
  log: writeLog,
  aliases: manifestAliases,
  eventSourceMappings,
  observability: observabilityOverrides,
  cluster,
  codeSigningConfigs,
}: GatewayDeps): Promise<RunningGateway> {
  preparePrivateDataDir(config.dataDir);
  // Before anything starts: a broken key file stops the start-up. A cluster's keys come from a mounted
  // file only, since a pod's data directory is neither shared nor kept.
  const accessKeys = new AccessKeys({
    file: config.accessKeysFile,
    dataDir: cluster ? undefined : config.dataDir,
    log: (line) => observability.logger.line(line),
  });
  const observability = createObservability(config, writeLog, observabilityOverrides);
  const internalApi: { deployments?: InternalHandler } = {};
  const log = observability.logger.line;
  const internal = guardListener(
    createServer(listenerOptions(config), internalRoutes(cluster?.demand, cluster?.linkKey, internalApi)),
    config,
    (line) => observability.logger.error(line),
    'internal',
  );
  // A local agent's link is a pipe, handed over when the agent is spawned: on the internal listener its boot
  // (seconds on a loaded machine) ran against the header deadline and failed cold starts with a 408. Only
  // our own children reach this unlistened server, and the launcher bounds how long they take to link.
  const pipeLinks = guardListener(
    createServer(internalRoutes(cluster?.demand, cluster?.linkKey)),
    config,
    (line) => observability.logger.error(line),
    'internal',
  );
  const links = new LinkServer(internal, pipeLinks);
  // A pod started with an init CPU boost: the controller resizes it once its agent says init is done.
  if (cluster) links.onInitialised((id) => cluster.demand.initialised(id));
  const internalPort = await listen(internal, config.internalHost, config.internalPort);
  const linkBaseUrl = () => `ws://${hostForUrl(config.internalHost)}:${internalPort}`;
  const acceptLink = (stream: Duplex) => pipeLinks.emit('connection', withReusedReads(stream));
  // Local mode: generic environments wait for the runtime profiles in use (ADR-50).
  const prewarm =
    !cluster && config.localPrewarm > 0 && isPrewarming(provider)
      ? new PrewarmPool(provider, (id) => `${linkBaseUrl()}${links.linkPath(id)}`, acceptLink, {
          perProfile: config.localPrewarm,
          idleMs: config.idleTimeoutSeconds * 1000,
        })
      : undefined;
  const start = environmentLauncher(
    provider,
    links,
    linkBaseUrl,
    config.environmentStartTimeoutSeconds * 1000,
    acceptLink,
    prewarm,
  );
  const dispatcher = new Dispatcher(config, start, observability.dispatch);
  // Local mode keeps versions and aliases in files; cluster mode reads what the controller published.
  const versions = new VersionStore(config.dataDir);
  const aliases = new AliasStore(config.dataDir);
  for (const alias of manifestAliases ?? []) applyManifestAlias(alias, registry, versions, aliases, log);
  const apiFunctions = new ApiFunctionStore(config.dataDir);
  const layers = new LayerStore(config.dataDir);
  // Local mode: what the control-plane API created is served again, beside the manifests' functions.
  if (!cluster) loadApiFunctions(apiFunctions, layers, config.region, registry, log);
  const limits = admitReservations(config, registry, log);
  const codeSigning = new CodeSigningGate(codeSigningConfigs ?? [], log);
  // Provisioned concurrency (ADR-41): its configurations are in the data directory, or a cluster's on Alias
  // resources (ADR-51), whose status the controller writes from what the demand list reports.
  const provisionedStore = cluster
    ? cluster.functions && new ClusterProvisionedStore(cluster.functions, registry)
    : new ProvisionedConfigStore(config.dataDir);
  const provisioned =
    provisionedStore &&
    new ProvisionedConcurrency({
      region: config.region,
      store: provisionedStore,
      registry,
      versions: cluster?.versions ?? versions,
      aliases: cluster?.aliases ?? aliases,
      dispatcher,
      limits,
      log,
    });
  if (cluster && provisioned)
    cluster.demand.reportProvisioned(() => provisionedReports(provisioned.states()));
  const declared = (manifestAliases ?? []).filter((a) => a.spec.provisionedConcurrency !== undefined);
  provisioned?.dropUndeclared(
    new Set(declared.map((a) => `${a.namespace}/${a.spec.functionName}/${a.name}`)),
  );
  for (const alias of declared) await applyManifestProvisioning(alias, registry, aliases, provisioned, log);
  registry.onChange(({ put, deleted }) => {
    if (deleted) {
      limits.setReservation(deleted.namespace, deleted.name, undefined);
      dispatcher.retire(deleted.namespace, deleted.name);
    }
    if (!put) return;
    dispatcher.retire(put.namespace, put.name, put);
    const problem = limits.checkReservation(put.namespace, put.name, put.spec.reservedConcurrency);
    // A reservation that would starve the unreserved pool is not taken; the function runs unreserved.
    if (problem) log(`${put.source}: spec.reservedConcurrency: ${problem}`);
    else limits.setReservation(put.namespace, put.name, put.spec.reservedConcurrency);
  });
  const invoker = new Invoker({
    config,
    registry,
    dispatcher,
    limits,
    versions: cluster?.versions ?? versions,
    aliases: cluster?.aliases ?? aliases,
    observer: observability.invocations,
    codeCheck: (fn) => codeSigning.check(fn),
    lineage: LineageKey.open(config.dataDir, cluster?.linkKey),
    provisioned,
  });
  // Local mode drives alias deployments itself; in a cluster the controller does, asking the gateway to run
  // hooks and report counters over the internal listener (docs/deployments.md).
  const hooks = invokerHooks(invoker);
  const counters = registryCounters(observability.metrics?.registry);
  if (cluster) internalApi.deployments = deploymentInternalApi(hooks, counters, randomUUID());
  const deployments = cluster
    ? undefined
    : new LocalDeployments({
        dataDir: config.dataDir,
        registry,
        versions,
        aliases,
        hooks,
        counters,
        metricsOn: observability.metrics !== undefined,
        prometheusUrl: config.prometheusUrl,
        metrics: observability.metrics && new DeploymentMetrics(observability.metrics.registry),
        clock: systemClock(config.deploymentTimeScale),
        log,
      });
  const nats = new NatsLink(config.natsUrl);
  const queue = await openEventQueue(config, nats);
  const destinations = new Destinations(queue, invoker, nats);
  const worker = new AsyncWorker(queue, invoker, destinations, {
    concurrency: config.asyncConcurrency,
    region: config.region,
    timeScale: config.asyncTimeScale,
    touchEveryMs:
      config.queueBackend === 'nats' ? Math.max(250, (config.natsAckWaitSeconds * 1000) / 3) : undefined,
    log,
    observer: observability.metrics && asyncMetricsObserver(observability.metrics),
  });
  worker.start();
  observability.watch({ limits, dispatcher, queue, registry });
  if (provisioned && observability.metrics) provisionedGauges(observability.metrics.registry, provisioned);
  const eventSources = createEventSources({
    config,
    invoker,
    registry,
    destinations,
    queue,
    tracing: observability.tracing,
    metricsRegistry: observability.metrics?.registry,
    log,
    declared: eventSourceMappings,
    catalog: cluster?.eventSourceMappings,
  });

  const authorizer = new Authorizer({
    config,
    registry,
    log,
    accessKeys,
    span: (name, attributes, fn) => observability.tracing.span(name, attributes, fn),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.use(frontDoorSpan(observability.tracing));
  // One router per protocol surface. Function URLs claim only their Host/path forms; ALB rules come after
  // the Lambda API routes, so no listener rule can shadow them.
  app.use(functionUrlRoutes({ config, registry, invoker, authorizer }));
  // Before every Lambda API route, so each one, present or added later, accepts SigV4 alike.
  app.use(signatureAuthentication(authorizer));
  const carriedTraceHeader = (incoming: string | undefined) =>
    observability.tracing.carriedTraceHeader(incoming);
  app.use(invokeApiRoutes({ config, invoker, queue, authorizer, carriedTraceHeader }));
  app.use(
    controlPlaneGuard(
      authorizer,
      config.defaultNamespace,
      config.region,
      (uuid) => eventSources.catalog.get(uuid)?.namespace,
    ),
  );
  // In a cluster, functions, versions and aliases are Kubernetes resources, not gateway state: the API
  // reads and writes them there (ADR-39).
  app.use(
    controlApiRoutes({
      config,
      registry,
      versions,
      aliases,
      limits,
      layers,
      store: apiFunctions,
      read: { versions: cluster?.versions ?? versions, aliases: cluster?.aliases ?? aliases },
      cluster: cluster !== undefined,
      kube: cluster?.functions,
      clusterApi:
        cluster?.functions && (await loadClusterApi()).clusterApi(cluster.functions, config.dataDir),
      provisioned,
      deploymentOf: (namespace, functionName, alias) =>
        deployments?.runningOn({ namespace, functionName, alias }),
    }),
  );
  if (deployments) app.use(deploymentRoutes(config, deployments));
  app.use(operatorApiRoutes({ config, queue }));
  app.use(accessKeyRoutes({ config, keys: accessKeys }));
  app.use(eventSourceMappingRoutes({ config, registry, ...eventSources }));
  app.use(loadBalancerRoutes({ config, registry, invoker, log }));
  app.use(unknownOperation);
  app.use(errorMiddleware((line) => observability.logger.error(line)));
  const front = guardListener(
    createServer(listenerOptions(config), app),
    config,
    (line) => observability.logger.error(line),
    'front door',
  );
  front.keepAliveTimeout = 65_000;
  const close = async () => {
    await deployments?.close();
    await eventSources.close();
    await worker.stop();
    await queue.close();
    await nats.close();
    provisioned?.close();
    dispatcher.close();
    prewarm?.close();
    await provider.close();
    links.close();
    await Promise.all([closeServer(front), closeServer(internal)]);
    await observability.close();
  };
  let port: number;
  let metricsUrl: string | undefined;
  try {
    port = await listen(front, config.host, config.port);
    // Local mode: a second `serval dev` must start although the first holds the default metrics port.
    metricsUrl = await observability.serveMetrics({ anyPortIfTaken: !cluster });
  } catch (err) {
    // A port in use must end the start-up cleanly, not leave half a gateway running.
    await close();
    throw err;
  }
  await eventSources.start();
  deployments?.resume();
  for (const line of authorizer.startupNotice(`http://${hostForUrl(config.host)}:${port}`)) log(line);
  if (authorizer.enabled) log(`auth: SigV4 access keys: ${accessKeys.describe()}`);
  return { url: `http://${hostForUrl(config.host)}:${port}`, metricsUrl, close };
}

/** Registers each function's reserved concurrency; one that would starve the unreserved pool is not served. */
function admitReservations(config: GatewayConfig, registry: FunctionRegistry, log: (line: string) => void) {
  const limits = new ConcurrencyLimits(config.accountConcurrencyLimit);
  for (const fn of registry.list()) {
    const problem = limits.checkReservation(fn.namespace, fn.name, fn.spec.reservedConcurrency);
    if (problem) {
      registry.delete(fn.namespace, fn.name);
      log(`skipped ${fn.source}: spec.reservedConcurrency: ${problem}`);
    } else {
      limits.setReservation(fn.namespace, fn.name, fn.spec.reservedConcurrency);
    }
  }
  return limits;
}

function loadApiFunctions(
  store: ApiFunctionStore,
  layers: LayerStore,
  region: string,
  registry: FunctionRegistry,
  log: (line: string) => void,
): void {
  for (const record of store.list()) {
    const taken = registry.get(record.namespace, record.name);
    // A manifest that now defines the same name wins; the API's copy stays stored, unserved.
    if (taken) log(`skipped API function ${record.namespace}/${record.name}: ${taken.source} defines it`);
    else registry.put(apiDefinition(record, layers, region));
  }
}

function applyManifestAlias(
  alias: LoadedAlias,
  registry: FunctionRegistry,
  versions: VersionStore,
  aliases: AliasStore,
  log: (line: string) => void,
): void {
  const { namespace, name, spec, source } = alias;
  if (!registry.get(namespace, spec.functionName)) {
    log(`skipped ${source}: spec.functionName: function ${namespace}/${spec.functionName} is not defined`);
    return;
  }
  const targets = [spec.functionVersion, ...Object.keys(spec.routingConfig?.additionalVersionWeights ?? {})];
  const missing = targets.filter((v) => v !== '$LATEST' && !versions.get(namespace, spec.functionName, v));
  // As CreateAlias refuses them: an alias loaded with an unpublished target would fail its share of calls.
  if (missing.length > 0) {
    log(
      `skipped ${source}: alias ${spec.functionName}:${name} points to unpublished version(s) ${missing.join(', ')}; ` +
        `publish them (npx serval publish ${spec.functionName}) and restart`,
    );
    return;
  }
  if (spec.deployment)
    log(
      `${source}: alias ${spec.functionName}:${name}: spec.deployment is driven by the controller in a cluster; locally use serval deploy`,
    );
  aliases.put(namespace, name, spec);
}

/** An alias manifest's `provisionedConcurrency`, put as PutProvisionedConcurrencyConfig would be. */
async function applyManifestProvisioning(
  alias: LoadedAlias,
  registry: FunctionRegistry,
  aliases: AliasStore,
  provisioned: ProvisionedConcurrency | undefined,
  log: (line: string) => void,
): Promise<void> {
  const { namespace, name, spec, source } = alias;
  const fn = registry.get(namespace, spec.functionName);
  if (spec.provisionedConcurrency === undefined || !fn || !aliases.get(namespace, spec.functionName, name))
    return;
  if (!provisioned) return;
  try {
    await provisioned.put(fn, name, spec.provisionedConcurrency, source);
  } catch (err) {
    log(
      `skipped ${source}: alias ${spec.functionName}:${name}: spec.provisionedConcurrency: ${(err as Error).message}`,
    );
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The control-plane API's cluster half, with the Kubernetes client it brings: a cluster gateway's only. */
function loadClusterApi() {
  return import('./front-door/control-api/cluster-api.ts');
}
