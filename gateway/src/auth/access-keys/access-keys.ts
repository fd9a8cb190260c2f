// Every access key the gateway knows: those in the operator's file (read-only here) and, in local mode,
// those created through the operator API. The SigV4 verifier looks keys up here.
import { ApiError } from '../../../../apis/errors.ts';
import {
  type AccessKey,
  AccessKeySchema,
  type AccessKeySummary,
  type KeyLookup,
  newKeyPair,
  summary,
} from './access-key.ts';
import { ManagedKeys } from './managed-keys.ts';
import { MountedKeys } from './mounted-keys.ts';

export interface AccessKeysOptions {
  /** SERVAL_ACCESS_KEYS_FILE: keys the operator provides (a mounted Secret in a cluster). */
  file: string | undefined;
  /** Local mode: where created keys are kept. Absent in a cluster, where a pod's disk is neither shared nor kept. */
  dataDir: string | undefined;
  log: (line: string) => void;
}

export interface NewKey {
  namespace: string;
  identity: string;
  groups?: string[] | undefined;
  description?: string | undefined;
}

export type ListedKey = AccessKeySummary & { source: 'api' | 'file' };

export class AccessKeys implements KeyLookup {
  private readonly mounted: MountedKeys | undefined;
  private readonly managed: ManagedKeys | undefined;

  constructor(o: AccessKeysOptions) {
    this.mounted = o.file ? new MountedKeys(o.file, { log: o.log }) : undefined;
    this.managed = o.dataDir ? new ManagedKeys(o.dataDir) : undefined;
  }

  get(accessKeyId: string): AccessKey | undefined {
    return this.mounted?.get(accessKeyId) ?? this.managed?.get(accessKeyId);
  }

  list(): ListedKey[] {
    return [
      ...(this.mounted?.list() ?? []).map((k) => ({ ...summary(k), source: 'file' as const })),
      ...(this.managed?.list() ?? []).map((k) => ({ ...summary(k), source: 'api' as const })),
    ];
  }

  /** For the start-up log: where keys come from and how many there are. */
  describe(): string {
    const sources = [
      this.mounted && `${this.mounted.list().length} from ${this.mounted.file}`,
      this.managed && `${this.managed.list().length} issued through the API (${this.managed.file})`,
    ].filter(Boolean);
    return sources.length ? sources.join(', ') : 'none';
  }

  /** Issues a key; the only time its secret leaves the gateway is in this answer. */
  create(input: NewKey, now: Date): AccessKey {
    if (!this.managed) throw this.readOnly();
    // Field by field: a caller never chooses the key id or the secret.
    const parsed = AccessKeySchema.safeParse({
      ...newKeyPair(),
      namespace: input.namespace,
      identity: input.identity,
      groups: input.groups,
      description: input.description,
      createdAt: now.toISOString(),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ApiError('InvalidParameterValueException', `${issue.path.join('.')}: ${issue.message}`);
    }
    this.managed.add(parsed.data);
    return parsed.data;
  }

  revoke(accessKeyId: string): void {
    if (this.managed?.revoke(accessKeyId)) return;
    if (this.mounted?.get(accessKeyId)) throw this.readOnly();
    throw new ApiError(
      'ResourceNotFoundException',
      `Access key not found: ${accessKeyId.replace(/[^A-Z0-9]/g, '?').slice(0, 128)}`,
    );
  }

  private readOnly(): ApiError {
    return new ApiError(
      'InvalidParameterValueException',
      this.mounted
        ? `Access keys on this gateway come from ${this.mounted.file}; change that file (or its Secret) instead`
        : 'This gateway keeps no access keys of its own; give it SERVAL_ACCESS_KEYS_FILE (docs/auth.md)',
    );
  }
}
