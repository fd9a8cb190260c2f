// A node that has no room refuses a pod the way the kubelet does: phase Failed, reason OutOfcpu (or
// OutOfmemory, OutOfpods…). That is capacity, not a broken function, so the gateway throttles the caller
// (429 TooManyRequestsException) instead of failing it, and the Function says so: a Warning Event and a
// `Capacity=False` condition, set back to True once one of its pods runs again.
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { KubeError, requestJson } from '../kube/request.ts';
import { type FunctionObject, functionsPath, LABEL_FUNCTION } from '../kube/resources.ts';
import { recordEvent, setCondition } from './status.ts';

/** The kubelet's reason for a pod it refused for lack of a resource, or undefined. */
export function refusedForCapacity(pod: V1Pod): string | undefined {
  const reason = pod.status?.reason;
  return pod.status?.phase === 'Failed' && reason?.startsWith('OutOf') ? reason : undefined;
}

export class CapacityReporter {
  private readonly kc: KubeConfig;
  /** Functions (namespace/name) this replica marked Capacity=False. */
  private readonly short = new Set<string>();

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  async refused(pod: V1Pod, reason: string): Promise<void> {
    const fn = await this.function(pod);
    if (!fn) return;
    const message = pod.status?.message ?? `pod ${pod.metadata?.name} refused: ${reason}`;
    this.short.add(keyOf(pod));
    await this.setCapacity(fn, 'False', reason, message);
    await recordEvent(
      this.kc,
      {
        apiVersion: 'serval.dev/v1alpha1',
        kind: 'Function',
        namespace: fn.metadata!.namespace!,
        name: fn.metadata!.name!,
        uid: fn.metadata!.uid!,
      },
      'Warning',
      'InsufficientCapacity',
      `${message}; invocations are throttled (429 TooManyRequestsException) until a pod fits`,
    );
  }

  /** A pod of the function runs: a shortage it had is over. */
  async running(pod: V1Pod): Promise<void> {
    const key = keyOf(pod);
    if (!this.short.has(key)) return;
    const fn = await this.function(pod);
    // Forgotten only once written: a write lost to a blip or to conflicts with the reconciler (which
    // writes the same status as the pod starts) is tried again on the next pass, not dropped for good.
    if (fn && (await this.setCapacity(fn, 'True', 'PodsRunning', `pod ${pod.metadata?.name} is running`)))
      this.short.delete(key);
  }

  private async function(pod: V1Pod): Promise<FunctionObject | undefined> {
    const name = pod.metadata?.labels?.[LABEL_FUNCTION];
    if (!name) return undefined;
    return (await requestJson(this.kc, `${functionsPath(pod.metadata?.namespace)}/${name}`).catch(
      () => undefined,
    )) as FunctionObject | undefined;
  }

  /**
   * Patches the condition against the status just read; on a conflict (the reconciler wrote) it reads again.
   * True once written.
   */
  private async setCapacity(
    fn: FunctionObject,
    status: 'True' | 'False',
    reason: string,
    message: string,
  ): Promise<boolean> {
    const path = `${functionsPath(fn.metadata?.namespace)}/${fn.metadata?.name}`;
    let current: FunctionObject | undefined = fn;
    for (let attempt = 0; current && attempt < 3; attempt++) {
      const conditions = setCondition(current.status?.conditions, {
        type: 'Capacity',
        status,
        reason,
        message,
        observedGeneration: current.metadata?.generation,
      });
      try {
        await requestJson(this.kc, `${path}/status`, {
          method: 'PATCH',
          body: { metadata: { resourceVersion: current.metadata?.resourceVersion }, status: { conditions } },
          contentType: 'application/merge-patch+json',
        });
        return true;
      } catch (err) {
        if (!(err instanceof KubeError && err.status === 409)) return false;
        current = (await requestJson(this.kc, path).catch(() => undefined)) as FunctionObject | undefined;
      }
    }
    return false;
  }
}

function keyOf(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.labels?.[LABEL_FUNCTION]}`;
}
