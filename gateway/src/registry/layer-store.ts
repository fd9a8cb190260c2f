// Layer versions (local mode): `<dataDir>/layers/<namespace>/<name>/<version>.json` with the unpacked
// content in `<version>/`. Version numbers are never reused, even after a delete (Lambda semantics). A
// function's layers are merged, in order, into one content-addressed directory that becomes its /opt.
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LAYER_VERSION_ARN } from '../../../apis/function.ts';
import { readJsonFile, writeJsonFileAtomically } from '../versions/json-file.ts';
import { unpackZip } from './zip-package.ts';

export interface LayerPermission {
  StatementId: string;
  Action: string;
  Principal: string;
  OrganizationId?: string | undefined;
}

export interface LayerVersionRecord {
  namespace: string;
  name: string;
  version: number;
  description: string;
  compatibleRuntimes: string[];
  compatibleArchitectures: string[];
  licenseInfo?: string | undefined;
  /** Hex SHA-256 of the zip. */
  codeSha256: string;
  codeSize: number;
  unzippedSize: number;
  createdDate: string;
  permissions: LayerPermission[];
  policyRevisionId: string;
  /** In a cluster: the ConfigMap's resourceVersion, so a policy change never overwrites another. */
  resourceVersion?: string | undefined;
}

/** What a publisher gives; the store adds the number, the zip's hash and sizes, the date. */
export type LayerVersionMeta = Omit<
  LayerVersionRecord,
  | 'version'
  | 'codeSha256'
  | 'codeSize'
  | 'unzippedSize'
  | 'createdDate'
  | 'permissions'
  | 'policyRevisionId'
  | 'resourceVersion'
>;

type Awaitable<T> = T | Promise<T>;

/** Where layer versions live: this directory (LayerStore), or ConfigMaps in a cluster (ClusterLayerStore). */
export interface LayerVersions {
  /** Layer names of a namespace with a version left, sorted. */
  names(namespace: string): Awaitable<string[]>;
  /** Oldest first. */
  versions(namespace: string, name: string): Awaitable<LayerVersionRecord[]>;
  get(namespace: string, name: string, version: number): Awaitable<LayerVersionRecord | undefined>;
  publish(meta: LayerVersionMeta, zip: Buffer, unzippedLimit: number): Promise<LayerVersionRecord>;
  savePermissions(record: LayerVersionRecord, permissions: LayerPermission[]): Awaitable<LayerVersionRecord>;
  delete(namespace: string, name: string, version: number): Awaitable<void>;
}

export function layerArn(region: string, namespace: string, name: string, version?: number): string {
  const base = `arn:serval:lambda:${region}:${namespace}:layer:${name}`;
  return version === undefined ? base : `${base}:${version}`;
}

export class LayerStore implements LayerVersions {
  private readonly root: string;
  private readonly viewsDir: string;
  /** Publishes one at a time, so two uploads at once never take the same version number. */
  private publishing: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.root = join(dataDir, 'layers');
    this.viewsDir = join(dataDir, 'layer-views');
  }

  /** Layer names of a namespace, sorted. */
  names(namespace: string): string[] {
    const dir = join(this.root, namespace);
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  }

  versions(namespace: string, name: string): LayerVersionRecord[] {
    const dir = join(this.root, namespace, name);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => /^\d+\.json$/.test(f))
      .map((f) => readJsonFile<LayerVersionRecord>(join(dir, f), undefined as never))
      .sort((a, b) => a.version - b.version);
  }

  get(namespace: string, name: string, version: number): LayerVersionRecord | undefined {
    return readJsonFile<LayerVersionRecord | undefined>(this.file(namespace, name, version), undefined);
  }

  /** The layer version an ARN names, in this gateway's region (when given). */
  byArn(arn: string, region?: string): LayerVersionRecord | undefined {
    const m = LAYER_VERSION_ARN.exec(arn);
    if (!m || (region !== undefined && !arn.includes(`:lambda:${region}:`))) return undefined;
    return this.get(m[2]!, m[4]!, Number(m[5]));
  }

  publish(meta: LayerVersionMeta, zip: Buffer, unzippedLimit: number): Promise<LayerVersionRecord> {
    const next = this.publishing.then(() => this.publishNow(meta, zip, unzippedLimit));
    this.publishing = next.catch(() => undefined);
    return next;
  }

  private async publishNow(
    meta: LayerVersionMeta,
    zip: Buffer,
    unzippedLimit: number,
  ): Promise<LayerVersionRecord> {
    const dir = join(this.root, meta.namespace, meta.name);
    mkdirSync(dir, { recursive: true });
    const counter = join(dir, 'latest.json');
    const version = readJsonFile<{ latest: number }>(counter, { latest: 0 }).latest + 1;
    const staging = join(dir, `${version}.tmp-${crypto.randomUUID()}`);
    const unzippedSize = await unpackZip(zip, staging, unzippedLimit);
    // Claimed only once the content is good, so a refused upload uses no number.
    writeJsonFileAtomically(counter, { latest: version });
    renameSync(staging, join(dir, String(version)));
    const record: LayerVersionRecord = {
      ...meta,
      version,
      codeSha256: createHash('sha256').update(zip).digest('hex'),
      codeSize: zip.length,
      unzippedSize,
      createdDate: new Date().toISOString(),
      permissions: [],
      policyRevisionId: crypto.randomUUID(),
    };
    writeJsonFileAtomically(this.file(meta.namespace, meta.name, version), record);
    return record;
  }

  savePermissions(record: LayerVersionRecord, permissions: LayerPermission[]): LayerVersionRecord {
    const next = { ...record, permissions, policyRevisionId: crypto.randomUUID() };
    writeJsonFileAtomically(this.file(record.namespace, record.name, record.version), next);
    return next;
  }

  /** Functions already using the version keep their merged /opt; new ones can no longer name it. */
  delete(namespace: string, name: string, version: number): void {
    rmSync(this.file(namespace, name, version), { force: true });
    rmSync(join(this.root, namespace, name, String(version)), { recursive: true, force: true });
  }

  /**
   * The directory a function with these layers sees as /opt: each layer's files copied over the previous
   * ones', in order. Content-addressed by the ARNs, built once.
   */
  optDirectory(arns: string[], region?: string): string | undefined {
    if (arns.length === 0) return undefined;
    const records = arns.map((arn) => this.byArn(arn, region));
    if (records.some((r) => r === undefined)) return undefined;
    const key = createHash('sha256')
      .update(records.map((r) => `${r!.namespace}/${r!.name}/${r!.version}/${r!.codeSha256}`).join('\n'))
      .digest('hex');
    const view = join(this.viewsDir, key);
    if (existsSync(view)) return view;
    const staging = `${view}.tmp-${crypto.randomUUID()}`;
    mkdirSync(staging, { recursive: true });
    for (const r of records) {
      cpSync(join(this.root, r!.namespace, r!.name, String(r!.version)), staging, {
        recursive: true,
        force: true,
        verbatimSymlinks: true,
      });
    }
    try {
      renameSync(staging, view);
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      if (!existsSync(view)) throw err;
    }
    return view;
  }

  private file(namespace: string, name: string, version: number): string {
    return join(this.root, namespace, name, `${version}.json`);
  }
}
