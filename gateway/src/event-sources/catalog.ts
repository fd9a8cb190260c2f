// Where mappings live. Local mode: the `serval dev` directory's manifests plus those created through the
// mapping API, kept in the data directory. Cluster mode (kubernetes-catalog.ts): EventSourceMapping
// resources. The mapping API and the runtime see both through this one interface.
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { EventSourceMappingSpec } from '../../../apis/event-source-mapping.ts';
import { readJsonFile, writeJsonFileAtomically } from '../versions/json-file.ts';
import type { SecretReader } from './credentials.ts';
import type { MappingDefinition, MappingStatus, StatusEvent } from './mapping.ts';

export type CatalogListener = (change: { put?: MappingDefinition; deleted?: MappingDefinition }) => void;

export interface MappingCatalog {
  list(): MappingDefinition[];
  get(uuid: string): MappingDefinition | undefined;
  create(namespace: string, spec: EventSourceMappingSpec): Promise<MappingDefinition>;
  update(uuid: string, spec: EventSourceMappingSpec): Promise<MappingDefinition>;
  delete(uuid: string): Promise<void>;
  onChange(listener: CatalogListener): void;
  /** Where a mapping's status goes beyond the runtime (cluster: the CRD's status and Events). */
  reportStatus?(mapping: MappingDefinition, status: MappingStatus, event?: StatusEvent): void;
  /** Where `secretRef`s are read (cluster: Secrets beside the mappings); locally the environment. */
  readSecret?: SecretReader;
}

/** A manifest-declared mapping, as the manifest loader reads it. */
export interface DeclaredMapping {
  namespace: string;
  name: string;
  spec: EventSourceMappingSpec;
  source: string;
}

/** A manifest mapping keeps its UUID across restarts: it is derived from its namespace and name. */
export function manifestMappingUuid(namespace: string, name: string): string {
  const h = createHash('sha256').update(`serval/event-source-mapping/${namespace}/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export class LocalMappingCatalog implements MappingCatalog {
  private readonly file: string;
  private readonly mappings = new Map<string, MappingDefinition>();
  private readonly listeners: CatalogListener[] = [];

  /** Manifest mappings come first; API-created ones are read back from `dataDir`. */
  constructor(dataDir: string, declared: readonly DeclaredMapping[]) {
    this.file = join(dataDir, 'event-source-mappings.json');
    const now = Date.now();
    for (const d of declared) {
      const uuid = manifestMappingUuid(d.namespace, d.name);
      this.mappings.set(uuid, {
        uuid,
        namespace: d.namespace,
        name: d.name,
        spec: d.spec,
        origin: 'manifest',
        generation: 0,
        lastModified: now,
      });
    }
    for (const stored of readJsonFile<MappingDefinition[]>(this.file, []))
      this.mappings.set(stored.uuid, stored);
  }

  list(): MappingDefinition[] {
    return [...this.mappings.values()];
  }

  get(uuid: string): MappingDefinition | undefined {
    return this.mappings.get(uuid);
  }

  async create(namespace: string, spec: EventSourceMappingSpec): Promise<MappingDefinition> {
    const uuid = randomUUID();
    const definition: MappingDefinition = {
      uuid,
      namespace,
      name: `${spec.functionName}-${uuid.slice(0, 8)}`,
      spec,
      origin: 'api',
      generation: 0,
      lastModified: Date.now(),
    };
    this.put(definition);
    return definition;
  }

  /** Changes to a manifest mapping last until the next start, when its manifest is read again. */
  async update(uuid: string, spec: EventSourceMappingSpec): Promise<MappingDefinition> {
    const current = this.mappings.get(uuid);
    if (!current) throw new Error(`no mapping ${uuid}`);
    const definition = { ...current, spec, lastModified: Date.now() };
    this.put(definition);
    return definition;
  }

  async delete(uuid: string): Promise<void> {
    const current = this.mappings.get(uuid);
    if (!current) return;
    this.mappings.delete(uuid);
    this.save();
    for (const l of this.listeners) l({ deleted: current });
  }

  onChange(listener: CatalogListener): void {
    this.listeners.push(listener);
  }

  private put(definition: MappingDefinition): void {
    this.mappings.set(definition.uuid, definition);
    this.save();
    for (const l of this.listeners) l({ put: definition });
  }

  private save(): void {
    writeJsonFileAtomically(
      this.file,
      this.list().filter((m) => m.origin === 'api'),
    );
  }
}
