// Functions created through the control-plane API (local mode): one JSON record per function under
// `<dataDir>/api-functions/<namespace>/<name>.json` and the uploaded packages, content-addressed, under
// `<dataDir>/packages/<sha256>` (unpacked) and `<sha256>.zip` (as uploaded: GetFunction's download and the
// account's code storage). They are served again after a restart, beside the manifests' functions.
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { FunctionSpec } from '../../../apis/function.ts';
import { readJsonFile, writeJsonFileAtomically } from '../versions/json-file.ts';
import type { FunctionDefinition } from './function-definition.ts';
import type { LayerStore } from './layer-store.ts';
import { unpackZip } from './zip-package.ts';

/** What Lambda keeps about a function besides its spec. */
export interface ApiFunctionRecord {
  namespace: string;
  name: string;
  /** `code.path` is the unpacked package. */
  spec: FunctionSpec;
  role: string;
  architectures: string[];
  tags: Record<string, string>;
  /** Hex SHA-256 of the zip as uploaded (AWS shows it base64). */
  codeSha256: string;
  codeSize: number;
  unzippedSize: number;
  revisionId: string;
  lastModified: string;
  urlCreatedAt?: string | undefined;
  urlModifiedAt?: string | undefined;
  eventInvokeModifiedAt?: string | undefined;
}

/** `source` of a definition this store made; every other definition belongs to a manifest. */
export const API_SOURCE_PREFIX = 'api:';

export function isApiFunction(fn: FunctionDefinition): boolean {
  return fn.source.startsWith(API_SOURCE_PREFIX);
}

export interface StoredPackage {
  dir: string;
  sha256: string;
  size: number;
  unzippedSize: number;
}

export class ApiFunctionStore {
  private readonly recordsDir: string;
  private readonly packagesDir: string;

  constructor(dataDir: string) {
    this.recordsDir = join(dataDir, 'api-functions');
    this.packagesDir = join(dataDir, 'packages');
  }

  list(): ApiFunctionRecord[] {
    if (!existsSync(this.recordsDir)) return [];
    const records: ApiFunctionRecord[] = [];
    for (const namespace of readdirSync(this.recordsDir).sort()) {
      for (const file of readdirSync(join(this.recordsDir, namespace)).sort()) {
        if (!file.endsWith('.json')) continue;
        const record = readJsonFile<ApiFunctionRecord | undefined>(
          join(this.recordsDir, namespace, file),
          undefined,
        );
        if (record) records.push(record);
      }
    }
    return records;
  }

  get(namespace: string, name: string): ApiFunctionRecord | undefined {
    return readJsonFile<ApiFunctionRecord | undefined>(this.file(namespace, name), undefined);
  }

  save(record: ApiFunctionRecord): void {
    writeJsonFileAtomically(this.file(record.namespace, record.name), record);
  }

  remove(namespace: string, name: string): void {
    rmSync(this.file(namespace, name), { force: true });
  }

  /**
   * Unpacks a zip into its content-addressed directory (an identical upload reuses it). The directory
   * appears whole or not at all: unpacking happens beside it and is renamed into place.
   */
  /** Where a zip's content is (or would be) unpacked. */
  packageDir(zip: Buffer): string {
    return join(this.packagesDir, createHash('sha256').update(zip).digest('hex'));
  }

  async storePackage(zip: Buffer, unzippedLimit: number): Promise<StoredPackage> {
    const sha256 = createHash('sha256').update(zip).digest('hex');
    const dir = join(this.packagesDir, sha256);
    mkdirSync(this.packagesDir, { recursive: true });
    let unzippedSize: number;
    if (existsSync(dir)) unzippedSize = directorySize(dir);
    else {
      const staging = `${dir}.tmp-${crypto.randomUUID()}`;
      unzippedSize = await unpackZip(zip, staging, unzippedLimit);
      writeFileSync(`${dir}.zip`, zip);
      try {
        renameSync(staging, dir);
      } catch (err) {
        // The same package uploaded twice at once: the other upload put it in place first.
        rmSync(staging, { recursive: true, force: true });
        if (!existsSync(dir)) throw err;
      }
    }
    return { dir, sha256, size: zip.length, unzippedSize };
  }

  /** The zip as uploaded, for GetFunction's Code.Location. */
  packageFile(sha256: string): string | undefined {
    const file = join(this.packagesDir, `${sha256}.zip`);
    return /^[a-f0-9]{64}$/.test(sha256) && existsSync(file) ? file : undefined;
  }

  /** Drops packages no record uses any more (published versions keep their own copies). */
  collectPackages(): void {
    if (!existsSync(this.packagesDir)) return;
    const used = new Set(this.list().map((r) => r.codeSha256));
    for (const name of readdirSync(this.packagesDir)) {
      const sha = name.replace(/\.zip$/, '');
      if (/^[a-f0-9]{64}$/.test(sha) && !used.has(sha)) {
        if (name.endsWith('.zip')) unlinkSync(join(this.packagesDir, name));
        else rmSync(join(this.packagesDir, name), { recursive: true, force: true });
      }
    }
  }

  /** Bytes of all stored zips: the account's code storage. */
  totalCodeSize(): number {
    if (!existsSync(this.packagesDir)) return 0;
    return readdirSync(this.packagesDir)
      .filter((n) => n.endsWith('.zip'))
      .reduce((n, f) => n + statSync(join(this.packagesDir, f)).size, 0);
  }

  private file(namespace: string, name: string): string {
    return join(this.recordsDir, namespace, `${name}.json`);
  }
}

export function apiDefinition(
  record: ApiFunctionRecord,
  layers: LayerStore,
  region: string,
): FunctionDefinition {
  return {
    namespace: record.namespace,
    name: record.name,
    spec: record.spec,
    codeDir: record.spec.code.path!,
    layersDir: layers.optDirectory(record.spec.layers ?? [], region),
    codeSha256: record.codeSha256,
    source: `${API_SOURCE_PREFIX}${record.namespace}/${record.name}`,
    // A change of code or configuration retires the environments started before it; tags do not.
    revision: createHash('sha256').update(JSON.stringify(record.spec)).digest('hex').slice(0, 16),
  };
}

function directorySize(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}
