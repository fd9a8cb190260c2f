// EventBridge's Scheduled Event (reference §14.2), and the deterministic id of one tick: every replica that
// fires the same tick of the same mapping produces the same id, so the durable queue keeps only one.
import { createHash } from 'node:crypto';

export interface ScheduledEvent {
  version: '0';
  id: string;
  'detail-type': 'Scheduled Event';
  source: 'aws.events';
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, never>;
}

export interface TickTarget {
  /** The mapping's UUID: ticks of different mappings never share an id. */
  uuid: string;
  namespace: string;
  /** The mapping's name, which plays the EventBridge rule's. */
  name: string;
  region: string;
}

/** `arn:serval:events:<region>:<namespace>:rule/<mapping>`, in the shape of EventBridge's rule ARN. */
export function ruleArn(t: TickTarget): string {
  return `arn:serval:events:${t.region}:${t.namespace}:rule/${t.name}`;
}

/** A UUID (version 5 layout, SHA-1 of mapping and tick time) that names one tick of one mapping. */
export function tickId(uuid: string, tickTime: number): string {
  const h = createHash('sha1').update(`serval-schedule\0${uuid}\0${tickTime}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** EventBridge writes the due time in whole seconds (`2026-11-24T03:00:00Z`). */
export function scheduledEvent(t: TickTarget, tickTime: number): ScheduledEvent {
  return {
    version: '0',
    id: tickId(t.uuid, tickTime),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: t.namespace,
    time: new Date(Math.floor(tickTime / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    region: t.region,
    resources: [ruleArn(t)],
    detail: {},
  };
}
