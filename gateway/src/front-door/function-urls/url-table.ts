// Which function a function URL id belongs to. Ids are derived from namespace, name and qualifier, so a
// URL stays the same across restarts and machines (Lambda keeps a URL until it is deleted).
import { createHash } from 'node:crypto';
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function functionUrlId(namespace: string, name: string, qualifier: string): string {
  const digest = createHash('sha256').update(`${namespace}/${name}/${qualifier}`).digest();
  let id = '';
  for (let i = 0; id.length < 32; i++) id += BASE32[digest[i]! & 31];
  return id;
}

export interface FunctionUrlTarget {
  fn: FunctionDefinition;
  /** `$LATEST` or an alias name. */
  qualifier: string;
}

export class FunctionUrlTable {
  private readonly registry: FunctionRegistry;
  private table = new Map<string, FunctionUrlTarget>();
  private size = -1;

  constructor(registry: FunctionRegistry) {
    this.registry = registry;
    // A function's URL can change without the number of functions changing (the control-plane API).
    registry.onChange(() => {
      this.size = -1;
    });
  }

  lookup(id: string): FunctionUrlTarget | undefined {
    const functions = this.registry.list();
    if (functions.length !== this.size) this.rebuild(functions);
    return this.table.get(id);
  }

  private rebuild(functions: FunctionDefinition[]): void {
    this.table = new Map();
    for (const fn of functions) {
      if (!fn.spec.url) continue;
      const qualifier = fn.spec.url.qualifier ?? '$LATEST';
      this.table.set(functionUrlId(fn.namespace, fn.name, qualifier), { fn, qualifier });
    }
    this.size = functions.length;
  }
}
