// Provisioned concurrency configurations (PutProvisionedConcurrencyConfig), one per alias or version. Local
// mode persists them in the data directory (manifests' aliases put theirs here at start-up too); a cluster
// keeps them on Alias resources (cluster-store.ts, ADR-51).
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomically } from '../versions/json-file.ts';

export interface ProvisionedConfig {
  namespace: string;
  functionName: string;
  /** An alias name or a version number; never `$LATEST`. */
  qualifier: string;
  requested: number;
  /** Epoch ms of the last Put. */
  lastModified: number;
  /** The manifest that declares it (an Alias's `provisionedConcurrency`); absent when the API put it. */
  declaredIn?: string | undefined;
  /** In a cluster: the Alias resource that holds it. */
  resource?: string | undefined;
}

/** Where configurations live: the data directory, or a cluster's Alias resources. */
export interface ProvisionedConfigSource {
  /**
   * Whether the configurations are this store's own: then the reconcile forgets one whose function, alias or
   * version is gone. A cluster's live on their Alias and go with it.
   */
  readonly owned: boolean;
  all(): readonly ProvisionedConfig[];
  ofFunction(namespace: string, functionName: string): ProvisionedConfig[];
  get(namespace: string, functionName: string, qualifier: string): ProvisionedConfig | undefined;
  /** Refuses, throwing, a qualifier this store cannot hold a configuration for. */
  checkQualifier(qualifier: string): void;
  put(config: ProvisionedConfig): void | Promise<void>;
  delete(namespace: string, functionName: string, qualifier: string): boolean | Promise<boolean>;
}

export class ProvisionedConfigStore implements ProvisionedConfigSource {
  readonly owned = true;
  private readonly file: string;
  private configs: ProvisionedConfig[];

  constructor(dataDir: string) {
    this.file = join(dataDir, 'provisioned-concurrency.json');
    this.configs = readJsonFile<ProvisionedConfig[]>(this.file, []);
  }

  all(): readonly ProvisionedConfig[] {
    return this.configs;
  }

  ofFunction(namespace: string, functionName: string): ProvisionedConfig[] {
    return this.configs.filter((c) => c.namespace === namespace && c.functionName === functionName);
  }

  get(namespace: string, functionName: string, qualifier: string): ProvisionedConfig | undefined {
    return this.configs.find(
      (c) => c.namespace === namespace && c.functionName === functionName && c.qualifier === qualifier,
    );
  }

  checkQualifier(): void {}

  put(config: ProvisionedConfig): void {
    this.save([...this.without(config.namespace, config.functionName, config.qualifier), config]);
  }

  delete(namespace: string, functionName: string, qualifier: string): boolean {
    const kept = this.without(namespace, functionName, qualifier);
    if (kept.length === this.configs.length) return false;
    this.save(kept);
    return true;
  }

  private without(namespace: string, functionName: string, qualifier: string): ProvisionedConfig[] {
    return this.configs.filter(
      (c) => !(c.namespace === namespace && c.functionName === functionName && c.qualifier === qualifier),
    );
  }

  private save(configs: ProvisionedConfig[]): void {
    this.configs = configs;
    writeJsonFileAtomically(this.file, configs);
  }
}
