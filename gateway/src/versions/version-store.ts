// Published versions: immutable snapshots of a function's code and version-scoped configuration, numbered
// from 1, kept in the data directory so they survive restarts. Publishing an unchanged function returns
// the version it already has (Lambda semantics).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FunctionSpec } from '../../../apis/function.ts';
import type { FunctionDefinition } from '../registry/function-definition.ts';
import { readJsonFile, writeJsonFileAtomically } from './json-file.ts';

export interface PublishedVersion {
  version: string;
  codeSha256: string;
  configHash: string;
  publishedAt: string;
  description?: string | undefined;
  spec: FunctionSpec;
  codeDir: string;
  /** The merged layers it sees as /opt, as they were when it was published. */
  layersDir?: string | undefined;
  /** Deleted (DeleteFunction with its number as Qualifier); kept so that the number is not reused. */
  deleted?: boolean | undefined;
}

/**
 * Configuration that belongs to a version. The URL, ALB rules, reserved concurrency, resource policy and
 * async (event-invoke) config belong to the function and apply to every version as they are now.
 */
function versionConfig(spec: FunctionSpec): Record<string, unknown> {
  const { url: _u, alb: _a, reservedConcurrency: _rc, policy: _p, async: _as, code: _c, ...rest } = spec;
  return rest;
}

export function configHash(spec: FunctionSpec): string {
  return createHash('sha256')
    .update(stableJson(versionConfig(spec)))
    .digest('hex');
}

export class VersionStore {
  private readonly dataDir: string;
  private readonly cache = new Map<string, PublishedVersion[]>();

  constructor(dataDir: string) {
    this.dataDir = dataDir;
  }

  list(namespace: string, name: string): PublishedVersion[] {
    return this.all(namespace, name).filter((v) => !v.deleted);
  }

  /** With the deleted ones, whose numbers are never given out again. */
  private all(namespace: string, name: string): PublishedVersion[] {
    const key = `${namespace}/${name}`;
    let versions = this.cache.get(key);
    if (!versions) {
      versions = readJsonFile<PublishedVersion[]>(this.file(namespace, name), []);
      this.cache.set(key, versions);
    }
    return versions;
  }

  get(namespace: string, name: string, version: string): PublishedVersion | undefined {
    return this.list(namespace, name).find((v) => v.version === version);
  }

  /** Returns the new version, or the existing one when neither code nor configuration changed. */
  publish(fn: FunctionDefinition, description?: string): { version: PublishedVersion; created: boolean } {
    const versions = this.all(fn.namespace, fn.name);
    const hash = configHash(fn.spec);
    const last = versions.at(-1);
    if (last && !last.deleted && last.codeSha256 === fn.codeSha256 && last.configHash === hash)
      return { version: last, created: false };
    // Code is copied, content-addressed, so later edits under code.path cannot change a published version.
    const codeDir = join(this.dataDir, 'published-code', fn.codeSha256);
    if (!existsSync(codeDir)) {
      const staging = `${codeDir}.tmp-${process.pid}`;
      cpSync(fn.codeDir, staging, {
        recursive: true,
        filter: (src) => !src.includes('/node_modules/.cache'),
      });
      renameSync(staging, codeDir);
    }
    const version: PublishedVersion = {
      version: String(versions.length === 0 ? 1 : Number(last!.version) + 1),
      codeSha256: fn.codeSha256,
      configHash: hash,
      publishedAt: new Date().toISOString(),
      description,
      spec: structuredClone(fn.spec),
      codeDir,
      layersDir: fn.layersDir,
    };
    versions.push(version);
    this.save(fn.namespace, fn.name, versions);
    return { version, created: true };
  }

  /** DeleteFunction with a version qualifier; its number is not given out again. */
  delete(namespace: string, name: string, version: string): void {
    const versions = this.all(namespace, name).map((v) =>
      v.version === version ? { ...v, deleted: true } : v,
    );
    this.cache.set(`${namespace}/${name}`, versions);
    this.save(namespace, name, versions);
  }

  /** DeleteFunction: every version goes with the function. */
  deleteAll(namespace: string, name: string): void {
    this.cache.delete(`${namespace}/${name}`);
    rmSync(this.file(namespace, name), { force: true });
  }

  /** The function as a given version runs it. */
  definitionOf(fn: FunctionDefinition, version: PublishedVersion): FunctionDefinition {
    return versionDefinition(fn, version);
  }

  private save(namespace: string, name: string, versions: PublishedVersion[]): void {
    writeJsonFileAtomically(this.file(namespace, name), versions); // never a half-written version list
  }

  private file(namespace: string, name: string): string {
    return join(this.dataDir, 'versions', namespace, `${name}.json`);
  }
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The function as a published version runs it: the version's spec and code, with the function-level settings
 * (reserved concurrency, resource policy, async config) as they are now.
 */
export function versionDefinition(fn: FunctionDefinition, version: PublishedVersion): FunctionDefinition {
  return {
    ...fn,
    spec: {
      ...version.spec,
      reservedConcurrency: fn.spec.reservedConcurrency,
      policy: fn.spec.policy,
      async: fn.spec.async,
    },
    codeDir: version.codeDir,
    layersDir: version.layersDir,
    codeSha256: version.codeSha256,
    revision: `v${version.version}`,
  };
}
