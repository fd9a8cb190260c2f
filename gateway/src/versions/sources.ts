// What the invocation path reads about versions and aliases. Local mode keeps them in files (VersionStore,
// AliasStore); cluster mode reads ControllerRevisions and Alias resources the controller manages.
import type { FunctionDefinition } from '../registry/function-definition.ts';
import type { AliasRecord } from './alias-store.ts';
import type { PublishedVersion } from './version-store.ts';

export interface VersionSource {
  get(namespace: string, name: string, version: string): PublishedVersion | undefined;
  /** The function's published versions, oldest first. */
  list(namespace: string, name: string): PublishedVersion[];
  /** The function as a given version runs it. */
  definitionOf(fn: FunctionDefinition, version: PublishedVersion): FunctionDefinition;
}

export interface AliasSource {
  get(namespace: string, functionName: string, name: string): AliasRecord | undefined;
}
