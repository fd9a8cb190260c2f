// The controller's Prometheus metrics, served on its health port at /metrics: reconciles by kind and
// result, their duration, pods created, deleted, refused and resized, whether this replica leads, and the process
// (memory, heap, event loop).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { PodAction } from './pods.ts';

export class ControllerMetrics {
  readonly registry = new Registry();
  constructor() {
    // Resident memory, heap and event-loop lag: what to watch against the pod's memory limit.
    collectDefaultMetrics({ register: this.registry });
  }
  private readonly reconciles = new Counter({
    name: 'serval_controller_reconciles_total',
    help: 'Reconciles by resource kind and result (success or error).',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: 'serval_controller_reconcile_duration_seconds',
    help: 'How long one reconcile took.',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly pods = new Counter({
    name: 'serval_controller_pods_total',
    help: 'Function pods created and deleted following the gateway demand, refused by a full node, and resized after their init.',
    labelNames: ['action'] as const,
    registers: [this.registry],
  });
  private readonly leader = new Gauge({
    name: 'serval_controller_leader',
    help: '1 while this replica holds the serval-controller Lease.',
    registers: [this.registry],
  });

  /** Wraps a reconcile so its outcome and duration are counted. */
  async reconcile(kind: string, run: () => Promise<void>): Promise<void> {
    const end = this.duration.startTimer({ kind });
    try {
      await run();
      this.reconciles.inc({ kind, result: 'success' });
    } catch (err) {
      this.reconciles.inc({ kind, result: 'error' });
      throw err;
    } finally {
      end();
    }
  }

  pod(action: PodAction): void {
    this.pods.inc({ action });
  }

  leading(value: boolean): void {
    this.leader.set(value ? 1 : 0);
  }
}
