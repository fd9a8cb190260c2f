// The functions the gateway serves, by namespace and name.
import { type FunctionDefinition, functionKey } from './function-definition.ts';

export type RegistryListener = (change: {
  put?: FunctionDefinition;
  deleted?: { namespace: string; name: string };
}) => void;

export class FunctionRegistry {
  private readonly functions = new Map<string, FunctionDefinition>();
  private readonly listeners: RegistryListener[] = [];

  put(fn: FunctionDefinition): void {
    this.functions.set(functionKey(fn.namespace, fn.name), fn);
    for (const l of this.listeners) l({ put: fn });
  }

  /** Called on every later put and delete (cluster mode: functions come and go while the gateway runs). */
  onChange(listener: RegistryListener): void {
    this.listeners.push(listener);
  }

  get(namespace: string, name: string): FunctionDefinition | undefined {
    return this.functions.get(functionKey(namespace, name));
  }

  delete(namespace: string, name: string): void {
    if (!this.functions.delete(functionKey(namespace, name))) return;
    for (const l of this.listeners) l({ deleted: { namespace, name } });
  }

  list(): FunctionDefinition[] {
    return [...this.functions.values()];
  }
}
