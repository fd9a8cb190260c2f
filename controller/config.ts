// The controller's configuration, read from its environment once at start-up.

export interface ControllerConfig {
  /** The gateway's internal listener (demand list), e.g. http://serval-gateway-link.serval-system.svc:8081. */
  gatewayUrl: string;
  /** What pods dial: the same listener as ws://; each pod appends its environment's link path. */
  linkUrl: string;
  /** Shared with the gateway; authenticates the controller's demand reads. */
  linkKey: string;
  runtimeImage: string;
  leaseNamespace: string;
  identity: string;
  healthPort: number;
  /** Test rigs without a scheduler bind function pods to this node directly. */
  podNodeName: string | undefined;
  /** How often the pod loop compares pods with the gateway's demand. */
  demandPollMs: number;
  /** Informers re-list this often, in case a watch stalled silently. */
  resyncMs: number;
  /** The gateway's function URL domain (SERVAL_FUNCTION_URL_DOMAIN, same default), for `status.url`. */
  functionUrlDomain: string;
  /** The Prometheus HTTP API that Alias deployments' `rollback.promql` conditions are asked of. */
  prometheusUrl: string | undefined;
  /**
   * The CPU limit (millicores) a zip function's pod has during its init phase, resized down to the
   * proportional share once initialised (ADR-48); 0 gives the share from the start.
   */
  initCpuMillicores: number;
  /**
   * nodejs* zip functions' pods run the in-process environment (ADR-58: the agent's link and the Node
   * runtime in one process under a shell supervisor) instead of the agent and a runtime process.
   * SERVAL_NODE_IN_PROCESS=on|off, off by default: a reset there costs the whole pod (ADR-58).
   */
  nodeInProcess: boolean;
  /** Multiplies every deployment interval, so test rigs run CodeDeploy's minutes fast; 1 in production. */
  deploymentTimeScale: number;
}

export class ControllerConfigError extends Error {}

export function parseControllerConfig(env: NodeJS.ProcessEnv): ControllerConfig {
  const required = (key: string) => {
    const value = env[key];
    if (!value) throw new ControllerConfigError(`${key} is required`);
    return value;
  };
  const int = (key: string, fallback: number, min: number, max: number) => {
    const raw = env[key];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ControllerConfigError(`${key} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
  const fraction = (key: string) => {
    const raw = env[key];
    if (raw === undefined || raw === '') return 1;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0 || value > 1)
      throw new ControllerConfigError(`${key} must be a number in (0, 1], got "${raw}"`);
    return value;
  };
  const onOff = (key: string, fallback: 'on' | 'off') => {
    const raw = env[key] || fallback;
    if (raw !== 'on' && raw !== 'off')
      throw new ControllerConfigError(`${key} must be "on" or "off", got "${raw}"`);
    return raw === 'on';
  };
  return {
    gatewayUrl: required('SERVAL_GATEWAY_URL').replace(/\/$/, ''),
    linkUrl: required('SERVAL_LINK_URL').replace(/\/$/, ''),
    linkKey: required('SERVAL_LINK_KEY'),
    runtimeImage: env.SERVAL_RUNTIME_IMAGE ?? 'ghcr.io/serval-dev/serval-runtime:latest',
    leaseNamespace: env.SERVAL_LEASE_NAMESPACE ?? 'serval-system',
    identity: env.POD_NAME ?? `serval-controller-${process.pid}`,
    healthPort: int('SERVAL_HEALTH_PORT', 8082, 0, 65535),
    podNodeName: env.SERVAL_POD_NODE_NAME || undefined,
    demandPollMs: int('SERVAL_DEMAND_POLL_MS', 250, 50, 60_000),
    resyncMs: int('SERVAL_RESYNC_SECONDS', 60, 1, 86_400) * 1000,
    functionUrlDomain:
      env.SERVAL_FUNCTION_URL_DOMAIN || `lambda-url.${env.SERVAL_REGION || 'local'}.localhost`,
    prometheusUrl: env.SERVAL_PROMETHEUS_URL || undefined,
    deploymentTimeScale: fraction('SERVAL_DEPLOYMENT_TIME_SCALE'),
    initCpuMillicores: int('SERVAL_INIT_CPU_MILLICORES', 1000, 0, 64_000),
    nodeInProcess: onOff('SERVAL_NODE_IN_PROCESS', 'off'),
  };
}
