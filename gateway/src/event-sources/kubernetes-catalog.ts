// Cluster mode's mappings: EventSourceMapping resources, kept current by an informer. The mapping API writes
// them (so kubectl and `aws lambda list-event-source-mappings` show one truth), the UUID is the resource's
// metadata.uid, and the gateway, which runs the pollers, writes their status and Events.
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import {
  type EventSourceMappingSpec,
  EventSourceMappingSpecSchema,
  sourceKind,
} from '../../../apis/event-source-mapping.ts';
import { type RunningInformer, startInformer } from '../../../kube/informer.ts';
import { requestJson } from '../../../kube/request.ts';
import { GROUP, VERSION } from '../../../kube/resources.ts';
import type { CatalogListener, MappingCatalog } from './catalog.ts';
import type { SecretReader } from './credentials.ts';
import { kubernetesSecrets } from './kubernetes-secrets.ts';
import type { MappingDefinition, MappingStatus, StatusEvent } from './mapping.ts';

const PLURAL = 'eventsourcemappings';

interface MappingObject extends KubernetesObject {
  spec: unknown;
  status?: Record<string, unknown>;
}

const path = (namespace?: string, name?: string) =>
  `/apis/${GROUP}/${VERSION}${namespace ? `/namespaces/${namespace}` : ''}/${PLURAL}${name ? `/${name}` : ''}`;

export class KubernetesMappingCatalog implements MappingCatalog {
  private readonly kc: KubeConfig;
  private readonly log: (line: string) => void;
  private readonly mappings = new Map<string, MappingDefinition>();
  private readonly listeners: CatalogListener[] = [];
  private informer: RunningInformer<MappingObject> | undefined;
  /** The last status written per UUID, so an unchanged one is not written again. */
  private readonly written = new Map<string, string>();
  private readonly writes = new Map<string, Promise<void>>();

  /** A mapping's `secretRef`s are Secrets in its own namespace. */
  readonly readSecret: SecretReader;

  constructor(kc: KubeConfig, log: (line: string) => void) {
    this.kc = kc;
    this.log = log;
    this.readSecret = kubernetesSecrets(kc);
  }

  async start(resyncMs?: number): Promise<void> {
    this.informer = startInformer<MappingObject>(
      this.kc,
      path(),
      { upsert: (o) => this.upsert(o), remove: (o) => this.removeObject(o) },
      { log: this.log, resyncMs },
    );
    await this.informer.synced;
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
  }

  list(): MappingDefinition[] {
    return [...this.mappings.values()];
  }

  get(uuid: string): MappingDefinition | undefined {
    return this.mappings.get(uuid);
  }

  async create(namespace: string, spec: EventSourceMappingSpec): Promise<MappingDefinition> {
    const created = (await requestJson(this.kc, path(namespace), {
      method: 'POST',
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'EventSourceMapping',
        metadata: { generateName: `${spec.functionName}-${sourceKind(spec.source)}-`, namespace },
        spec,
      },
    })) as MappingObject;
    return this.definitionOf(created, spec);
  }

  async update(uuid: string, spec: EventSourceMappingSpec): Promise<MappingDefinition> {
    const current = this.mustGet(uuid);
    const updated = (await requestJson(this.kc, path(current.namespace, current.name), {
      method: 'PATCH',
      contentType: 'application/merge-patch+json',
      // A merge patch of the whole spec: fields the update removed are set to null.
      body: { spec: withNulls(current.spec, spec) },
    })) as MappingObject;
    return this.definitionOf(updated, spec);
  }

  async delete(uuid: string): Promise<void> {
    const current = this.mustGet(uuid);
    await requestJson(this.kc, path(current.namespace, current.name), { method: 'DELETE' });
  }

  onChange(listener: CatalogListener): void {
    this.listeners.push(listener);
  }

  /** Writes a mapping's status (only when it changed) and raises its Event, one write at a time per mapping. */
  reportStatus(mapping: MappingDefinition, status: MappingStatus, event?: StatusEvent): void {
    const body = {
      status: {
        observedGeneration: mapping.generation,
        sourceKind: status.sourceKind,
        state: status.state,
        stateTransitionReason: status.stateTransitionReason,
        lastProcessingResult: status.lastProcessingResult,
        ...(status.nextFireTimes ? { nextFireTimes: status.nextFireTimes } : {}),
        conditions: status.conditions.map((c) => ({ ...c, observedGeneration: mapping.generation })),
      },
    };
    const text = JSON.stringify(body);
    const changed = this.written.get(mapping.uuid) !== text;
    if (!changed && !event) return;
    this.written.set(mapping.uuid, text);
    const previous = this.writes.get(mapping.uuid) ?? Promise.resolve();
    const next = previous.then(async () => {
      try {
        if (changed) {
          await requestJson(this.kc, `${path(mapping.namespace, mapping.name)}/status`, {
            method: 'PATCH',
            contentType: 'application/merge-patch+json',
            body,
          });
        }
        if (event) await this.raiseEvent(mapping, event);
      } catch (err) {
        this.log(`event source mapping ${mapping.namespace}/${mapping.name}: status: ${messageOf(err)}`);
      }
    });
    this.writes.set(mapping.uuid, next);
  }

  private async raiseEvent(mapping: MappingDefinition, event: StatusEvent): Promise<void> {
    const now = new Date().toISOString();
    await requestJson(this.kc, `/api/v1/namespaces/${mapping.namespace}/events`, {
      method: 'POST',
      body: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${mapping.name}.`, namespace: mapping.namespace },
        involvedObject: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'EventSourceMapping',
          name: mapping.name,
          namespace: mapping.namespace,
          uid: mapping.uuid,
        },
        type: event.type,
        reason: event.reason,
        message: event.message,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component: 'serval-gateway' },
      },
    });
  }

  private upsert(o: MappingObject): void {
    const parsed = EventSourceMappingSpecSchema.safeParse(o.spec);
    const uid = o.metadata?.uid ?? '';
    if (!parsed.success) {
      // What CEL cannot check (the filter grammar) is refused here, with the field named on the status.
      const issue = parsed.error.issues[0]!;
      const field = `spec${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
      this.removeUid(uid);
      const definition = this.definitionOf(o, undefined);
      if (definition) this.reportInvalid(definition, `${field}: ${issue.message}`);
      return;
    }
    const definition = this.definitionOf(o, parsed.data);
    const previous = this.mappings.get(uid);
    // A resync hands every object over again; only a new generation is a change.
    if (previous && previous.generation === definition.generation) return;
    this.mappings.set(uid, definition);
    for (const l of this.listeners) l({ put: definition });
  }

  private reportInvalid(definition: MappingDefinition, message: string): void {
    this.reportStatus(definition, {
      uuid: definition.uuid,
      sourceKind: sourceKind(definition.spec.source),
      state: 'Disabled',
      stateTransitionReason: 'USER_INITIATED',
      lastProcessingResult: `PROBLEM: ${message}`,
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'InvalidSpec',
          message,
          lastTransitionTime: new Date().toISOString(),
        },
      ],
      observedGeneration: definition.generation,
    });
  }

  private removeObject(o: MappingObject): void {
    this.removeUid(o.metadata?.uid ?? '');
    this.written.delete(o.metadata?.uid ?? '');
  }

  private removeUid(uid: string): void {
    const current = this.mappings.get(uid);
    if (!current) return;
    this.mappings.delete(uid);
    for (const l of this.listeners) l({ deleted: current });
  }

  private definitionOf(o: MappingObject, spec: EventSourceMappingSpec): MappingDefinition;
  private definitionOf(o: MappingObject, spec: undefined): MappingDefinition | undefined;
  private definitionOf(
    o: MappingObject,
    spec: EventSourceMappingSpec | undefined,
  ): MappingDefinition | undefined {
    const source = (o.spec as { source?: EventSourceMappingSpec['source'] } | undefined)?.source;
    const resolved =
      spec ?? (source ? ({ ...(o.spec as object), source } as EventSourceMappingSpec) : undefined);
    if (!resolved) return undefined;
    try {
      sourceKind(resolved.source);
    } catch {
      return undefined;
    }
    const created = Date.parse(String(o.metadata?.creationTimestamp ?? ''));
    return {
      uuid: o.metadata?.uid ?? '',
      namespace: o.metadata?.namespace ?? 'default',
      name: o.metadata?.name ?? '',
      spec: resolved,
      origin: 'kubernetes',
      generation: o.metadata?.generation ?? 0,
      lastModified: Number.isFinite(created) ? created : Date.now(),
    };
  }

  private mustGet(uuid: string): MappingDefinition {
    const current = this.mappings.get(uuid);
    if (!current) throw new Error(`no mapping ${uuid}`);
    return current;
  }
}

/** A merge patch replacing `before` by `after`: keys `after` dropped become null. */
function withNulls(before: object, after: object): Record<string, unknown> {
  const patch: Record<string, unknown> = { ...after };
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  return patch;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
