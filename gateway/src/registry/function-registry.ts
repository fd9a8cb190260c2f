// The functions the gateway serves, by namespace and name.
import { type FunctionDefinition, functionKey } from './function-definition.ts';

export class FunctionRegistry {
  private readonly functions = new Map<string, FunctionDefinition>();

  put(fn: FunctionDefinition): void {
    this.functions.set(functionKey(fn.namespace, fn.name), fn);
  }

  get(namespace: string, name: string): FunctionDefinition | undefined {
    return this.functions.get(functionKey(namespace, name));
  }

  delete(namespace: string, name: string): void {
    this.functions.delete(functionKey(namespace, name));
  }

  list(): FunctionDefinition[] {
    return [...this.functions.values()];
  }
}
