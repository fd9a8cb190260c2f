// Aliases per function, persisted in the data directory; manifests put theirs here at start-up too.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { AliasSpec } from '../../../apis/alias.ts';
import { readJsonFile, writeJsonFileAtomically } from './json-file.ts';

export interface AliasRecord {
  name: string;
  spec: AliasSpec;
  revisionId: string;
}

export class AliasStore {
  private readonly dataDir: string;
  private readonly cache = new Map<string, AliasRecord[]>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  list(namespace: string, functionName: string): AliasRecord[] {
    const key = `${namespace}/${functionName}`;
    let aliases = this.cache.get(key);
    if (!aliases) {
      aliases = readJsonFile<AliasRecord[]>(this.file(namespace, functionName), []);
      this.cache.set(key, aliases);
    }
    return aliases;
  }

  get(namespace: string, functionName: string, name: string): AliasRecord | undefined {
    return this.list(namespace, functionName).find((a) => a.name === name);
  }

  put(namespace: string, name: string, spec: AliasSpec): AliasRecord {
    const aliases = this.list(namespace, spec.functionName).filter((a) => a.name !== name);
    const record: AliasRecord = { name, spec, revisionId: crypto.randomUUID() };
    aliases.push(record);
    this.cache.set(`${namespace}/${spec.functionName}`, aliases);
    writeJsonFileAtomically(this.file(namespace, spec.functionName), aliases);
    return record;
  }

  delete(namespace: string, functionName: string, name: string): boolean {
    const aliases = this.list(namespace, functionName);
    const kept = aliases.filter((a) => a.name !== name);
    if (kept.length === aliases.length) return false;
    this.cache.set(`${namespace}/${functionName}`, kept);
    writeJsonFileAtomically(this.file(namespace, functionName), kept);
    return true;
  }

  deleteAll(namespace: string, functionName: string): void {
    this.cache.delete(`${namespace}/${functionName}`);
    rmSync(this.file(namespace, functionName), { force: true });
  }

  private file(namespace: string, functionName: string): string {
    return join(this.dataDir, 'aliases', namespace, `${functionName}.json`);
  }
}

/** Picks the version an invocation of the alias runs: the additional one with its weight, else the primary. */
export function pickVersion(spec: AliasSpec, random: () => number = Math.random): string {
  const [extra] = Object.entries(spec.routingConfig?.additionalVersionWeights ?? {});
  if (extra && random() < extra[1]) return extra[0];
  return spec.functionVersion;
}
