// Access keys from a file the operator provides (SERVAL_ACCESS_KEYS_FILE): in a cluster, a Kubernetes Secret
// mounted into the gateway. Read at start-up (a mistake stops the gateway) and again when the file
// changes, as the kubelet updates a mounted Secret; a broken update keeps the keys already loaded.
import { readFileSync, statSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { type AccessKey, AccessKeySchema } from './access-key.ts';

const FileSchema = z.object({ keys: z.array(AccessKeySchema) }).strict();

/** How often a lookup may look at the file's modification time. */
const RECHECK_MS = 2000;

export class AccessKeysFileError extends Error {}

export class MountedKeys {
  readonly file: string;
  private keys: Map<string, AccessKey>;
  private stamp: string;
  private checkedAt = 0;
  private readonly clock: () => number;
  private readonly log: (line: string) => void;

  constructor(file: string, deps: { log: (line: string) => void; clock?: () => number }) {
    this.file = file;
    this.log = deps.log;
    this.clock = deps.clock ?? Date.now;
    this.stamp = stampOf(file);
    this.keys = load(file);
    this.checkedAt = this.clock();
  }

  get(accessKeyId: string): AccessKey | undefined {
    this.refresh();
    return this.keys.get(accessKeyId);
  }

  list(): AccessKey[] {
    this.refresh();
    return [...this.keys.values()];
  }

  private refresh(): void {
    const now = this.clock();
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    try {
      const stamp = stampOf(this.file);
      if (stamp === this.stamp) return;
      this.keys = load(this.file);
      this.stamp = stamp;
      this.log(`auth: access keys reloaded from ${this.file} (${this.keys.size} keys)`);
    } catch (err) {
      this.log(`auth: kept the access keys loaded before; ${(err as Error).message}`);
    }
  }
}

/** Modification time and size; a Secret update swaps a symbolic link, which stat follows. */
function stampOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.mtimeMs}:${s.size}`;
  } catch (err) {
    throw new AccessKeysFileError(`SERVAL_ACCESS_KEYS_FILE ${file}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

function load(file: string): Map<string, AccessKey> {
  const fail = (message: string): never => {
    throw new AccessKeysFileError(`SERVAL_ACCESS_KEYS_FILE ${file}: ${message}`);
  };
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    return fail(`not readable YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  const parsed = FileSchema.safeParse(doc);
  // The path of the problem, never the value: the value may be a secret.
  if (!parsed.success)
    return fail(`${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
  const keys = new Map<string, AccessKey>();
  parsed.data.keys.forEach((key, i) => {
    if (keys.has(key.accessKeyId)) fail(`keys.${i}.accessKeyId: listed twice`);
    keys.set(key.accessKeyId, key);
  });
  return keys;
}
