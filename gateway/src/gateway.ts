// Assembles the gateway: the front door, the dispatcher, the environment link listener and a provider.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { ConcurrencyLimits } from './admission/concurrency-limits.ts';
import { AsyncWorker } from './async/async-worker.ts';
import { MemoryEventQueue } from './async/event-queue.ts';
import type { GatewayConfig } from './config.ts';
import { Dispatcher } from './dispatch/dispatcher.ts';
import { environmentLauncher } from './dispatch/environment-launcher.ts';
import { controlApiRoutes } from './front-door/control-api/routes.ts';
import { errorMiddleware, unknownOperation } from './front-door/error-middleware.ts';
import { functionUrlRoutes } from './front-door/function-urls/routes.ts';
import { invokeApiRoutes } from './front-door/invoke-api/routes.ts';
import { loadBalancerRoutes } from './front-door/load-balancer/routes.ts';
import { Invoker } from './invocation/invoker.ts';
import type { EnvironmentProvider } from './providers/provider.ts';
import type { FunctionRegistry } from './registry/function-registry.ts';
import type { LoadedAlias } from './registry/manifest-loader.ts';
import { LinkServer } from './runtime-link/link-server.ts';
import { AliasStore } from './versions/alias-store.ts';
import { VersionStore } from './versions/version-store.ts';

export interface GatewayDeps {
  config: GatewayConfig;
  registry: FunctionRegistry;
  provider: EnvironmentProvider;
  /** The gateway's own operational log. */
  log: (line: string) => void;
  /** Aliases declared in manifests; they replace stored aliases of the same name. */
  aliases?: LoadedAlias[];
}

export interface RunningGateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway({
  config,
  registry,
  provider,
  log,
  aliases: manifestAliases,
}: GatewayDeps): Promise<RunningGateway> {
  const internal = createServer((_req, res) => res.writeHead(404).end());
  const links = new LinkServer(internal);
  const internalPort = await listen(internal, config.internalHost, config.internalPort);
  const start = environmentLauncher(
    provider,
    links,
    () => `ws://${hostForUrl(config.internalHost)}:${internalPort}`,
    config.environmentStartTimeoutSeconds * 1000,
  );
  const dispatcher = new Dispatcher(config, start);
  const versions = new VersionStore(config.dataDir);
  const aliases = new AliasStore(config.dataDir);
  for (const alias of manifestAliases ?? []) applyManifestAlias(alias, registry, versions, aliases, log);
  const limits = admitReservations(config, registry, log);
  const invoker = new Invoker({ config, registry, dispatcher, limits, versions, aliases });
  const queue = new MemoryEventQueue();
  const worker = new AsyncWorker(queue, invoker, { concurrency: config.asyncConcurrency, log });
  worker.start();

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // One router per protocol surface. Function URLs claim only their Host/path forms; ALB rules come after
  // the Lambda API routes, so no listener rule can shadow them.
  app.use(functionUrlRoutes({ config, registry, invoker }));
  app.use(invokeApiRoutes({ config, invoker, queue }));
  app.use(controlApiRoutes({ config, registry, versions, aliases }));
  app.use(loadBalancerRoutes({ config, registry, invoker, log }));
  app.use(unknownOperation);
  app.use(errorMiddleware(log));
  const front = createServer(app);
  front.keepAliveTimeout = 65_000;
  const port = await listen(front, config.host, config.port);

  return {
    url: `http://${hostForUrl(config.host)}:${port}`,
    async close() {
      await worker.stop();
      dispatcher.close();
      await provider.close();
      links.close();
      await Promise.all([closeServer(front), closeServer(internal)]);
    },
  };
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
  // Versions are published at run time; the alias still loads and answers 404 until they exist.
  if (missing.length > 0) {
    log(
      `alias ${namespace}/${spec.functionName}:${name} points to unpublished version(s) ${missing.join(', ')}`,
    );
  }
  aliases.put(namespace, name, spec);
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
