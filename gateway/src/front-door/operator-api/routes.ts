// Serval's own operator API for the async queue (no Lambda equivalent): depth, age and dead letters, and
// redriving or purging them. The `serval queue` CLI commands are thin clients of these routes.
import express, { type Request, type Router } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import type { DeadLetter, DeadLetterFilter, EventQueue } from '../../async/event-queue.ts';
import type { GatewayConfig } from '../../config.ts';
import { apiRouter } from '../api-router.ts';

export interface OperatorDeps {
  config: GatewayConfig;
  queue: EventQueue;
}

export function operatorApiRoutes({ config, queue }: OperatorDeps): Router {
  const router = apiRouter();
  const json = express.json({ limit: '64kb', type: () => true });

  router.get('/serval/v1/async/stats', async (_req, res) => {
    res.json(await queue.stats(Date.now()));
  });

  router.get('/serval/v1/async/dead-letters', async (req, res) => {
    const letters = await queue.listDeadLetters(filterOf(req.query, config));
    res.json({ deadLetters: letters.map(present) });
  });

  router.post('/serval/v1/async/dead-letters/redrive', json, async (req, res) => {
    res.json({ redriven: await queue.redrive(filterOf(req.body ?? {}, config), Date.now()) });
  });

  router.post('/serval/v1/async/dead-letters/purge', json, async (req, res) => {
    const filter = filterOf(req.body ?? {}, config);
    if (!filter.functionName && !filter.ids) {
      throw new ApiError('InvalidParameterValueException', 'purge needs a function or ids');
    }
    res.json({ purged: await queue.purge(filter) });
  });

  return router;
}

/** The same filter from a query string or a JSON body: namespace, function, ids (list or comma-separated), limit. */
function filterOf(
  input: Request['query'] | Record<string, unknown>,
  config: GatewayConfig,
): DeadLetterFilter {
  const text = (key: string): string | undefined => {
    const value = input[key];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string')
      throw new ApiError('InvalidParameterValueException', `${key} must be a string`);
    return value;
  };
  const rawIds = input.ids;
  let ids: string[] | undefined;
  if (Array.isArray(rawIds)) ids = rawIds.map(String);
  else if (typeof rawIds === 'string' && rawIds !== '') ids = rawIds.split(',');
  const rawLimit = text('limit');
  const limit = rawLimit === undefined ? undefined : Number(rawLimit);
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 10_000)) {
    throw new ApiError('InvalidParameterValueException', 'limit must be an integer from 1 to 10000');
  }
  const functionName = text('function');
  return {
    namespace: text('namespace') ?? (functionName ? config.defaultNamespace : undefined),
    functionName,
    ids,
    limit,
  };
}

function present(letter: DeadLetter) {
  const { event } = letter;
  let payload: unknown = event.payload.toString('utf8');
  try {
    payload = JSON.parse(payload as string);
  } catch {}
  return {
    id: letter.id,
    requestId: event.requestId,
    namespace: event.namespace,
    function: event.functionName,
    qualifier: event.qualifier ?? '$LATEST',
    condition: letter.condition,
    reason: letter.reason,
    acceptedAt: new Date(event.acceptedAt).toISOString(),
    failedAt: new Date(letter.failedAt).toISOString(),
    approximateInvokeCount: event.attempts,
    lastError: event.last
      ? {
          statusCode: event.last.statusCode,
          errorType: event.last.errorType,
          errorMessage: event.last.errorMessage,
        }
      : undefined,
    payload,
  };
}
