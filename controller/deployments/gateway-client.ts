// The controller's side of the gateway's internal deployment routes: hooks run through the gateway's
// dispatcher, and the target version's counters as the gateway counted them.
import type { VersionCounters } from '../../gateway/src/deployments/counters.ts';
import type { HookRunner } from '../../gateway/src/deployments/hooks.ts';
import {
  DEPLOYMENTS_INTERNAL,
  fromWire,
  type WireCounters,
} from '../../gateway/src/deployments/internal-api.ts';

/** A hook may run for as long as a function may (15 minutes), plus the wait for an environment. */
const HOOK_TIMEOUT_MS = 16 * 60_000;

export function gatewayDeploymentClient(
  gatewayUrl: string,
  linkKey: string,
): { hooks: HookRunner; counters: VersionCounters } {
  const headers = { Authorization: `Bearer ${linkKey}`, 'Content-Type': 'application/json' };
  const url = (route: string, query: Record<string, string>) =>
    `${gatewayUrl}${DEPLOYMENTS_INTERNAL}${route}?${new URLSearchParams(query)}`;
  return {
    hooks: {
      async run(namespace, hook, event) {
        try {
          const res = await fetch(url('hooks', { namespace, function: hook }), {
            method: 'POST',
            headers,
            body: JSON.stringify(event),
            signal: AbortSignal.timeout(HOOK_TIMEOUT_MS),
          });
          if (!res.ok) return { ok: false, reason: `hook ${hook}: the gateway answered ${res.status}` };
          return (await res.json()) as Awaited<ReturnType<HookRunner['run']>>;
        } catch (err) {
          return {
            ok: false,
            reason: `hook ${hook}: cannot reach the gateway: ${err instanceof Error ? err.message : String(err)}`,
          };
        }
      },
    },
    counters: {
      async read(namespace, fn, version) {
        const res = await fetch(url('counters', { namespace, function: fn, version }), {
          headers,
          signal: AbortSignal.timeout(10_000),
        });
        if (res.status === 404) return undefined;
        if (!res.ok) throw new Error(`the gateway answered ${res.status}`);
        return fromWire((await res.json()) as WireCounters);
      },
    },
  };
}
