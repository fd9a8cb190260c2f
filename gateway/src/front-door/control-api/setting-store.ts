// Where the setting operations (concurrency, URL, policy, event-invoke config, recursion, tags) read and
// write a function: the local store (function-changes.ts), or in a cluster the Function resource
// (cluster-settings.ts). The handlers, their validation and their AWS shapes are the same for both.
import type { ApiFunctionRecord } from '../../registry/api-functions.ts';
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import type { FunctionChanges } from './function-changes.ts';

export type SettingRecord = Pick<
  ApiFunctionRecord,
  'tags' | 'revisionId' | 'urlCreatedAt' | 'urlModifiedAt' | 'eventInvokeModifiedAt'
>;

export interface SettingStore {
  /** What Lambda keeps beside the spec (tags, the URL's and event-invoke config's times, RevisionId). */
  record(fn: FunctionDefinition): SettingRecord | undefined;
  /**
   * Applies `change` to the function as it is at the moment of writing; `expectedRevision` (the caller's
   * RevisionId) must still be its RevisionId. Resolves with the definition served afterwards.
   */
  commit(
    fn: FunctionDefinition,
    expectedRevision: string | undefined,
    change: (record: ApiFunctionRecord) => ApiFunctionRecord,
  ): Promise<FunctionDefinition>;
}

/** Local mode: the record in the data directory; a manifest's function is refused, naming its file. */
export function localSettings(changes: FunctionChanges): SettingStore {
  const { store, registry } = changes.deps;
  return {
    record: (fn) => store.get(fn.namespace, fn.name),
    async commit(fn, expectedRevision, change) {
      const next = changes.commit(fn, expectedRevision, change);
      return registry.get(next.namespace, next.name)!;
    },
  };
}
