// Deployment series on the gateway's (or the controller's) Prometheus registry: how many started and how
// each ended, and the share of an alias's calls its deployment's target version gets now.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DeploymentPhase, DeploymentState } from '../../../apis/deployment.ts';

export type DeploymentEvent = 'started' | 'succeeded' | 'rolled_back' | 'failed' | 'stopped';

const ENDED: Partial<Record<DeploymentPhase, DeploymentEvent>> = {
  Succeeded: 'succeeded',
  RolledBack: 'rolled_back',
  Failed: 'failed',
  Stopped: 'stopped',
};

export interface DeploymentKey {
  namespace: string;
  function: string;
  alias: string;
}

export class DeploymentMetrics {
  private readonly deployments: Counter<string>;
  private readonly weight: Gauge<string>;

  constructor(registry: Registry) {
    this.deployments = new Counter({
      name: 'serval_deployments_total',
      help: 'Alias deployments, by event: started, succeeded, rolled_back, failed, stopped.',
      labelNames: ['namespace', 'function', 'alias', 'event'],
      registers: [registry],
    });
    this.weight = new Gauge({
      name: 'serval_deployment_target_weight',
      help: "Share (0-1) of an alias's calls its deployment sends to the target version now.",
      labelNames: ['namespace', 'function', 'alias', 'version'],
      registers: [registry],
    });
  }

  started(key: DeploymentKey): void {
    this.deployments.labels(key.namespace, key.function, key.alias, 'started').inc();
  }

  progressed(key: DeploymentKey, state: DeploymentState): void {
    this.weight.labels(key.namespace, key.function, key.alias, state.targetVersion).set(state.targetWeight);
    const ended = ENDED[state.phase];
    if (ended) this.deployments.labels(key.namespace, key.function, key.alias, ended).inc();
  }
}
