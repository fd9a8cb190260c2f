// Lambda gives a function CPU in proportion to its memory, but boosts it during the init phase (ADR-48).
// A zip function's pod therefore starts with the boost as its CPU limit, and once the gateway reports the
// environment initialised the controller resizes the limit in place (the pods/resize subresource) to the
// proportional share; the agent holds the first handler until its cgroup shows it. The request is the
// share throughout (less a millicore: a pod's QoS class cannot change on resize, so request and limit
// must differ), which is what the scheduler accounts. Without in-place resize the boost is turned off and
// pods get their share from the start.
import type { KubeConfig, V1Pod, V1ResourceRequirements } from '@kubernetes/client-node';
import { KubeError, requestJson } from '../kube/request.ts';

/** Lambda gives a function one vCPU at 1,769 MB; CPU is proportional to memory. */
const MB_PER_CPU = 1769;
/** Set on a boosted pod: the CPU limit its function container gets once initialised. */
export const ANNOTATION_CPU_AFTER_INIT = 'serval.dev/cpu-after-init';
/** The agent's variable: the millicores to wait for before the first handler runs. */
export const CPU_AFTER_INIT_ENV = 'SERVAL_CPU_AFTER_INIT_MILLICORES';
const CONTAINER = 'function';

export function proportionalMillicores(memoryMB: number): number {
  return Math.max(1, Math.round((memoryMB / MB_PER_CPU) * 1000));
}

/** The function container's resources; `afterInit` is set when the pod starts boosted. */
export function functionResources(
  memoryMB: number,
  boostMillicores: number,
): { resources: V1ResourceRequirements; afterInit: number | undefined } {
  const memory = `${memoryMB}Mi`;
  const share = proportionalMillicores(memoryMB);
  if (boostMillicores <= share) {
    const cpu = `${share}m`;
    return { resources: { limits: { memory, cpu }, requests: { memory, cpu } }, afterInit: undefined };
  }
  return {
    resources: {
      limits: { memory, cpu: `${boostMillicores}m` },
      requests: { memory, cpu: `${Math.max(1, share - 1)}m` },
    },
    afterInit: share,
  };
}

export class InitCpuBoost {
  private readonly kc: KubeConfig;
  private readonly log: (line: string) => void;
  private readonly resized: () => void;
  private boost: number;
  private checked: Promise<void> | undefined;
  /** Pods (by uid) already asked to resize, or given up on: one request each. */
  private readonly done = new Set<string>();

  constructor(kc: KubeConfig, millicores: number, log: (line: string) => void, resized: () => void) {
    this.kc = kc;
    this.boost = millicores;
    this.log = log;
    this.resized = resized;
  }

  /** The CPU limit new pods start with; 0 when off or when the cluster cannot resize pods. */
  async millicores(): Promise<number> {
    if (this.boost > 0) this.checked ??= this.checkApiServer();
    await this.checked;
    return this.boost;
  }

  /** The gateway reports `pod`'s environment initialised: its limit goes down to the share. */
  async initialised(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    const target = pod.metadata?.annotations?.[ANNOTATION_CPU_AFTER_INIT];
    const phase = pod.status?.phase;
    if (!target || this.done.has(uid) || phase === 'Failed' || phase === 'Succeeded') return;
    const container = pod.spec?.containers.find((c) => c.name === CONTAINER);
    if (container?.resources?.limits?.cpu === target) return;
    this.done.add(uid);
    const where = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    // A kubelet that resizes in place reports each container's applied resources; one that does not
    // (older than 1.33, or with InPlacePodVerticalScaling off) would leave the boost on for good. Only a
    // Running pod's status says: the environment's init is done (its container runs) often before the
    // kubelet has reported the pod Running, and waiting for that made the handler start on the boost.
    const status = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER);
    if (phase === 'Running' && status && status.resources === undefined) {
      this.off(`the kubelet on ${pod.spec?.nodeName} does not report container resources (${where})`);
      return;
    }
    try {
      await requestJson(
        this.kc,
        `/api/v1/namespaces/${pod.metadata?.namespace}/pods/${pod.metadata?.name}/resize`,
        {
          method: 'PATCH',
          contentType: 'application/strategic-merge-patch+json',
          body: { spec: { containers: [{ name: CONTAINER, resources: { limits: { cpu: target } } }] } },
        },
      );
      this.resized();
    } catch (err) {
      const why = `resizing ${where} failed: ${err instanceof Error ? err.message : err}`;
      if (err instanceof KubeError && err.status === 404) return; // the pod is gone
      // Early, before the kubelet said Running: whatever the answer, the next pass asks again.
      if (phase !== 'Running') {
        this.done.delete(uid);
        return;
      }
      // Refused (invalid, forbidden, not allowed): no pod will be resized. Anything else: the next pass retries.
      if (err instanceof KubeError && [400, 403, 405, 422].includes(err.status)) this.off(why);
      else {
        this.done.delete(uid);
        this.log(why);
      }
    }
  }

  /** Forgets pods that no longer exist. */
  retain(uids: Set<string>): void {
    for (const uid of this.done) if (!uids.has(uid)) this.done.delete(uid);
  }

  private async checkApiServer(): Promise<void> {
    try {
      const core = (await requestJson(this.kc, '/api/v1')) as { resources?: Array<{ name: string }> };
      if (!core.resources?.some((r) => r.name === 'pods/resize'))
        this.off('the API server has no pods/resize subresource (Kubernetes 1.33 or newer resizes pods)');
    } catch (err) {
      // Asked again with the next pod.
      this.checked = undefined;
      throw err;
    }
  }

  private off(why: string): void {
    if (this.boost === 0) return;
    this.boost = 0;
    this.log(`init CPU boost off: ${why}; function pods get their proportional CPU from the start`);
  }
}
