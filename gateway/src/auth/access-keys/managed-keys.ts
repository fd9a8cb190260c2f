// Local mode's access keys, created and revoked through the operator API and kept in the data directory
// (access-keys.json, mode 0600, in the 0700 directory). SigV4 needs the secret itself to recompute the
// HMAC, so the secret is stored as issued (ADR-32); it is shown once, at creation.
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonFileAtomically } from '../../versions/json-file.ts';
import { type AccessKey, AccessKeySchema } from './access-key.ts';

export const MANAGED_KEYS_FILE = 'access-keys.json';

const FileSchema = z.object({ keys: z.array(AccessKeySchema) });

export class ManagedKeys {
  readonly file: string;
  private readonly keys = new Map<string, AccessKey>();

  constructor(dataDir: string) {
    this.file = join(dataDir, MANAGED_KEYS_FILE);
    const parsed = FileSchema.safeParse(readJsonFile<unknown>(this.file, { keys: [] }));
    if (!parsed.success) {
      throw new Error(`${this.file}: not an access key file (${parsed.error.issues[0]?.message})`);
    }
    for (const key of parsed.data.keys) this.keys.set(key.accessKeyId, key);
  }

  get(accessKeyId: string): AccessKey | undefined {
    return this.keys.get(accessKeyId);
  }

  list(): AccessKey[] {
    return [...this.keys.values()];
  }

  add(key: AccessKey): void {
    this.keys.set(key.accessKeyId, key);
    this.save();
  }

  /** Forgets the key and its secret; false when there was none. */
  revoke(accessKeyId: string): boolean {
    if (!this.keys.delete(accessKeyId)) return false;
    this.save();
    return true;
  }

  private save(): void {
    writeJsonFileAtomically(this.file, { keys: this.list() }, 0o600);
    chmodSync(this.file, 0o600); // a file an older gateway or a person wrote with laxer permissions
  }
}
