// Assembles event source mappings for the gateway: the catalog (manifests and API-created mappings locally,
// the CRD in a cluster), the runtime that polls them, their metrics, and on-failure delivery through the
// async destination machinery.
import type { Registry } from 'prom-client';
import type { Destinations } from '../async/destinations.ts';
import type { EventQueue } from '../async/event-queue.ts';
import type { GatewayConfig } from '../config.ts';
import type { Invoker } from '../invocation/invoker.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { FunctionRegistry } from '../registry/function-registry.ts';
import { type DeclaredMapping, LocalMappingCatalog, type MappingCatalog } from './catalog.ts';
import { credentialResolver, environmentSecrets } from './credentials.ts';
import { MappingRuntime } from './mapping-runtime.ts';
import { eventSourceMetrics } from './metrics.ts';
import { type EventSourceObserver, NO_OBSERVER } from './observer.ts';
import { type Clock, SYSTEM_CLOCK } from './schedule/clock.ts';
import { scheduleMetrics } from './schedule/schedule-metrics.ts';
import { Scheduler } from './schedule/scheduler.ts';

export interface EventSourcesDeps {
  config: GatewayConfig;
  invoker: Invoker;
  registry: FunctionRegistry;
  destinations: Destinations;
  /** The durable async queue: schedule ticks are enqueued on it, once each across replicas. */
  queue: EventQueue;
  /** The schedules' clock (tests and benchmarks scale it); the system clock by default. */
  clock?: Clock;
  tracing: Tracing;
  /** The gateway's Prometheus registry; no metrics when absent. */
  metricsRegistry: Registry | undefined;
  log: (line: string) => void;
  /** Manifest mappings (local mode). */
  declared?: readonly DeclaredMapping[];
  /** Cluster mode: EventSourceMapping resources (kubernetes-catalog.ts), which also take the status. */
  catalog?: MappingCatalog;
}

export interface EventSources {
  catalog: MappingCatalog;
  runtime: MappingRuntime;
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createEventSources(deps: EventSourcesDeps): EventSources {
  const catalog: MappingCatalog =
    deps.catalog ?? new LocalMappingCatalog(deps.config.dataDir, deps.declared ?? []);
  const observer: EventSourceObserver = deps.metricsRegistry
    ? eventSourceMetrics(deps.metricsRegistry)
    : NO_OBSERVER;
  const scheduler = new Scheduler({
    queue: deps.queue,
    clock: deps.clock ?? SYSTEM_CLOCK,
    region: deps.config.region,
    observer: deps.metricsRegistry ? scheduleMetrics(deps.metricsRegistry) : undefined,
    log: deps.log,
  });
  const runtime = new MappingRuntime({
    scheduler,
    invoker: deps.invoker,
    tracing: deps.tracing,
    observer,
    region: deps.config.region,
    log: deps.log,
    onStatus: catalog.reportStatus?.bind(catalog),
    sendFailureRecord: (destination, record, namespace) =>
      deps.destinations.sendRecord(destination, record, namespace, Date.now()),
    reservedConcurrency: (namespace, name) => deps.registry.get(namespace, name)?.spec.reservedConcurrency,
    credentials: credentialResolver(
      deps.config,
      catalog.readSecret?.bind(catalog) ?? environmentSecrets(deps.config.eventSourceSecrets),
    ),
  });
  catalog.onChange(({ put, deleted }) => {
    if (put) void runtime.put(put);
    if (deleted) void runtime.remove(deleted.uuid);
  });
  return {
    catalog,
    runtime,
    async start() {
      await Promise.all(catalog.list().map((m) => runtime.put(m)));
    },
    close: () => runtime.close(),
  };
}
