// Builds the gateway's metrics, tracing and log from its configuration, and serves /metrics on a listener
// of its own (see docs/observability.md for why not on the front door).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { GatewayConfig } from '../config.ts';
import { guardListener, listenerOptions } from '../http/listener-guard.ts';
import { type DispatchObserver, dispatchObserver } from './dispatch-observer.ts';
import { GatewayLogger } from './gateway-log.ts';
import { InvocationObserver } from './invocation-observer.ts';
import {
  type AsyncQueueStats,
  type ConcurrencySnapshot,
  type EnvironmentSnapshot,
  GatewayMetrics,
} from './metrics.ts';
import { Tracing } from './tracing.ts';

export interface ObservabilityOverrides {
  /** Where finished spans go instead of the configured exporter; turns tracing on (tests, benchmarks). */
  spanExporter?: SpanExporter | undefined;
  /** A metrics instance the caller keeps, e.g. to register a queue's stats before start. */
  metrics?: GatewayMetrics | undefined;
}

/** What the metrics read at scrape time; structural, so this module depends on no gateway part. */
export interface WatchedParts {
  limits: { snapshot(): ConcurrencySnapshot[] };
  dispatcher: { environmentStats(): EnvironmentSnapshot[] };
  queue: AsyncQueueStats & { readonly backend: string };
  registry: { list(): Array<{ namespace: string; name: string }> };
}

export interface Observability {
  metrics: GatewayMetrics | undefined;
  tracing: Tracing;
  logger: GatewayLogger;
  invocations: InvocationObserver;
  dispatch: DispatchObserver;
  /** Registers the gateway's parts the metrics read on every scrape. */
  watch(parts: WatchedParts): void;
  /**
   * Starts the metrics listener when metrics are on; resolves to its URL. With `anyPortIfTaken` (local mode:
   * a second `serval dev` must start) a port in use is replaced by a free one, and the log says so; otherwise
   * (cluster mode, where Prometheus scrapes the fixed port) it fails.
   */
  serveMetrics(options?: { anyPortIfTaken?: boolean }): Promise<string | undefined>;
  close(): Promise<void>;
}

export function createObservability(
  config: GatewayConfig,
  write: (line: string) => void,
  overrides: ObservabilityOverrides = {},
): Observability {
  const metrics = config.metrics === 'on' ? (overrides.metrics ?? new GatewayMetrics()) : undefined;
  const exporter =
    overrides.spanExporter ??
    (config.tracing === 'otlp' ? new OTLPTraceExporter({ url: config.otlpEndpoint }) : undefined);
  const tracing = exporter
    ? new Tracing({
        exporter,
        processor: overrides.spanExporter ? 'simple' : 'batch',
        sampleRatio: config.tracingSampleRatio,
      })
    : Tracing.off();
  const logger = new GatewayLogger({ format: config.logFormat, write, tracing });
  let server: Server | undefined;
  return {
    metrics,
    tracing,
    logger,
    invocations: new InvocationObserver({ metrics, tracing, logger }),
    dispatch: dispatchObserver(metrics, tracing),
    watch({ limits, dispatcher, queue, registry }) {
      if (!metrics) return;
      metrics.observeConcurrency(() => limits.snapshot());
      metrics.observeEnvironments(() => dispatcher.environmentStats());
      metrics.observeQueue(queue, queue.backend);
      metrics.knownFunctions(registry.list());
    },
    async serveMetrics({ anyPortIfTaken = false } = {}) {
      if (!metrics) return undefined;
      server = guardListener(
        metricsServer(config, metrics, logger),
        config,
        (l) => logger.error(l),
        'metrics',
      );
      const host = config.metricsHost.includes(':') ? `[${config.metricsHost}]` : config.metricsHost;
      const url = (port: number) =>
        `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}/metrics`;
      try {
        return url(await listen(server, config.metricsHost, config.metricsPort));
      } catch (err) {
        if (!anyPortIfTaken || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
      const taken = url(await listen(server, config.metricsHost, 0));
      logger.warn(
        `metrics port ${config.metricsPort} is in use (another serval dev?); metrics are on ${taken} instead`,
      );
      return taken;
    },
    async close() {
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await tracing.shutdown();
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err);
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** GET /metrics in the Prometheus text format; everything else is 404. */
function metricsServer(config: GatewayConfig, metrics: GatewayMetrics, logger: GatewayLogger): Server {
  return createServer(listenerOptions(config), (req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (err: unknown) => {
        logger.error('metrics collection failed', {
          error: err instanceof Error ? err.message : String(err),
        });
        res.writeHead(500).end();
      },
    );
  });
}
