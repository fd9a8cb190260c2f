// In cluster mode the controller drives deployments but the gateway runs functions and counts them: these
// routes on the gateway's internal listener (link-key holders only) run a hook through the dispatcher and
// report a version's counters. Each gateway answers for itself; `source` names it, so a controller behind
// a Service that reaches another replica starts a new window instead of subtracting unrelated counters.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CounterSample, VersionCounters } from './counters.ts';
import type { HookEvent, HookRunner } from './hooks.ts';

export const DEPLOYMENTS_INTERNAL = '/serval/internal/v1/deployments/';

export interface WireCounters {
  source: string;
  invocations: number;
  errors: number;
  throttles: number;
  /** [upper bound in seconds or "+Inf", cumulative count] */
  durationBuckets: Array<[number | '+Inf', number]>;
}

export function toWire(source: string, s: CounterSample): WireCounters {
  return {
    source,
    invocations: s.invocations,
    errors: s.errors,
    throttles: s.throttles,
    durationBuckets: [...s.durationBuckets].map(([le, n]) => [
      le === Number.POSITIVE_INFINITY ? '+Inf' : le,
      n,
    ]),
  };
}

export function fromWire(w: WireCounters): CounterSample {
  return {
    source: w.source,
    invocations: w.invocations,
    errors: w.errors,
    throttles: w.throttles,
    durationBuckets: new Map(
      w.durationBuckets.map(([le, n]) => [le === '+Inf' ? Number.POSITIVE_INFINITY : le, n]),
    ),
  };
}

export function deploymentInternalApi(hooks: HookRunner, counters: VersionCounters, source: string) {
  return async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
  ): Promise<void> => {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    };
    const namespace = query.get('namespace') ?? '';
    const fn = query.get('function') ?? '';
    if (req.method === 'GET' && path === `${DEPLOYMENTS_INTERNAL}counters`) {
      const sample = await counters.read(namespace, fn, query.get('version') ?? '');
      return sample ? json(200, toWire(source, sample)) : json(404, { message: 'metrics are off' });
    }
    if (req.method === 'POST' && path === `${DEPLOYMENTS_INTERNAL}hooks`) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      let event: Omit<HookEvent, 'LifecycleEventHookExecutionId'>;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(400, { message: 'the body must be the hook event as JSON' });
      }
      return json(200, await hooks.run(namespace, fn, event));
    }
    json(404, { message: 'no such route' });
  };
}
