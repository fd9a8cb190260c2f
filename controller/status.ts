// Status conditions and Events: how the controller tells people what it did and why.
import type { KubeConfig } from '@kubernetes/client-node';
import { requestJson } from '../kube/request.ts';
import type { Condition } from '../kube/resources.ts';

/** Sets one condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(
  conditions: Condition[] | undefined,
  next: Omit<Condition, 'lastTransitionTime'>,
): Condition[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const previous = i >= 0 ? list[i] : undefined;
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : new Date().toISOString();
  const condition = { ...next, lastTransitionTime };
  if (i >= 0) list[i] = condition;
  else list.push(condition);
  return list;
}

export interface EventTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** Records a core/v1 Event on an object (kubectl describe shows it). */
export async function recordEvent(
  kc: KubeConfig,
  target: EventTarget,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
): Promise<void> {
  const now = new Date().toISOString();
  await requestJson(kc, `/api/v1/namespaces/${target.namespace}/events`, {
    method: 'POST',
    body: {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${target.name}.`, namespace: target.namespace },
      involvedObject: {
        apiVersion: target.apiVersion,
        kind: target.kind,
        namespace: target.namespace,
        name: target.name,
        uid: target.uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: 'serval-controller' },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      reportingComponent: 'serval-controller',
    },
  }).catch(() => undefined); // an Event is best effort: never fail a reconcile over it
}
