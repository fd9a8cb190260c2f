// ALB listener rules gathered from every function's `spec.alb`, evaluated lowest priority number first;
// a rule matches when all of its conditions (host, path prefix) match, as on an ALB listener.
import type { FunctionDefinition } from '../../registry/function-definition.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';

export interface ListenerRule {
  priority: number;
  host?: RegExp | undefined;
  pathPrefix?: string | undefined;
  fn: FunctionDefinition;
  multiValueHeaders: boolean;
}

/** ALB host conditions are case-insensitive and allow `*` (any characters) and `?` (one character). */
function hostPattern(host: string): RegExp {
  const escaped = host
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

export class ListenerRules {
  private readonly registry: FunctionRegistry;
  private rules: ListenerRule[] = [];
  private size = -1;
  /** Rules whose priority another function already holds: reported once, never served. */
  readonly conflicts: string[] = [];

  constructor(registry: FunctionRegistry) {
    this.registry = registry;
  }

  match(host: string, path: string): ListenerRule | undefined {
    const functions = this.registry.list();
    if (functions.length !== this.size) this.rebuild(functions);
    const h = host.replace(/:\d+$/, '').toLowerCase();
    return this.rules.find(
      (r) => (!r.host || r.host.test(h)) && (r.pathPrefix === undefined || path.startsWith(r.pathPrefix)),
    );
  }

  private rebuild(functions: FunctionDefinition[]): void {
    const byPriority = new Map<number, ListenerRule>();
    this.conflicts.length = 0;
    for (const fn of functions) {
      for (const rule of fn.spec.alb?.rules ?? []) {
        const holder = byPriority.get(rule.priority);
        if (holder) {
          // Priorities are unique on a listener; the first function (by manifest order) keeps it.
          this.conflicts.push(
            `${fn.namespace}/${fn.name}: priority ${rule.priority} is taken by ${holder.fn.name}`,
          );
          continue;
        }
        byPriority.set(rule.priority, {
          priority: rule.priority,
          host: rule.host ? hostPattern(rule.host) : undefined,
          pathPrefix: rule.pathPrefix,
          fn,
          multiValueHeaders: fn.spec.alb?.multiValueHeaders ?? false,
        });
      }
    }
    this.rules = [...byPriority.values()].sort((a, b) => a.priority - b.priority);
    this.size = functions.length;
  }
}
