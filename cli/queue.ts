// `serval queue …`: the operator's view of the async queue, a thin client of /serval/v1/async.
import { type ControlOptions, operatorCall } from './control.ts';

export interface QueueFilter {
  function?: string | undefined;
  namespace?: string | undefined;
  ids?: string[] | undefined;
}

const call = (o: ControlOptions, method: string, path: string, body?: unknown) =>
  operatorCall(o, method, `async/${path}`, body);

export async function queueStats(o: ControlOptions): Promise<void> {
  const s = await call(o, 'GET', 'stats');
  o.out(`backend            ${s.backend}`);
  o.out(`depth              ${s.depth}`);
  o.out(`oldest event age   ${Number(s.oldestEventAgeSeconds).toFixed(1)} s`);
  o.out(`dead letters       ${s.deadLetters}`);
}

export async function queueDeadLetters(filter: QueueFilter, o: ControlOptions): Promise<void> {
  const query = new URLSearchParams();
  if (filter.function) query.set('function', filter.function);
  if (filter.namespace) query.set('namespace', filter.namespace);
  const { deadLetters } = (await call(o, 'GET', `dead-letters?${query}`)) as {
    deadLetters: {
      id: string;
      requestId: string;
      namespace: string;
      function: string;
      condition: string;
      failedAt: string;
      reason: string;
      lastError?: { errorType: string; errorMessage: string };
    }[];
  };
  if (deadLetters.length === 0) {
    o.out('no dead letters');
    return;
  }
  for (const l of deadLetters) {
    const error = l.lastError ? `${l.lastError.errorType}: ${l.lastError.errorMessage}` : '';
    o.out(
      `${l.id}\t${l.namespace}/${l.function}\t${l.requestId}\t${l.condition}\t${l.failedAt}\t${error}\t(${l.reason})`,
    );
  }
}

export async function queueRedrive(filter: QueueFilter, o: ControlOptions): Promise<void> {
  const { redriven } = await call(o, 'POST', 'dead-letters/redrive', filter);
  o.out(`redrove ${redriven} dead letter(s)`);
}

export async function queuePurge(filter: QueueFilter, o: ControlOptions): Promise<void> {
  const { purged } = await call(o, 'POST', 'dead-letters/purge', filter);
  o.out(`purged ${purged} dead letter(s)`);
}
