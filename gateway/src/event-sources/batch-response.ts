// Reads a function's partial batch response (`ReportBatchItemFailures`) by Lambda's exact rules (reference
// §10.2): an empty or null list, or an empty or null response, is full success; invalid JSON or an
// itemIdentifier that is empty, null, wrongly keyed or not in the batch fails the whole batch.
import type { BatchOutcome, SourceRecord } from './source-kind.ts';

export function readBatchResponse<R extends SourceRecord>(
  body: Buffer,
  records: readonly R[],
): BatchOutcome<R> {
  const text = body.toString('utf8').trim();
  if (text === '' || text === 'null') return { kind: 'success' };
  let response: unknown;
  try {
    response = JSON.parse(text);
  } catch {
    return invalid('the function response is not valid JSON');
  }
  if (response === null || typeof response !== 'object' || Array.isArray(response)) {
    // A response without batchItemFailures reports nothing failed, as in Lambda (e.g. a handler returning "ok").
    return Array.isArray(response) ? invalid('the function response is not an object') : { kind: 'success' };
  }
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return invalid('batchItemFailures is not a list');
  if (failures.length === 0) return { kind: 'success' };
  const byId = new Map(records.map((r) => [r.id, r]));
  const failed = new Map<string, R>();
  for (const item of failures) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '') {
      return invalid('a batchItemFailures entry has no itemIdentifier, or an empty one');
    }
    const record = byId.get(id);
    if (!record) return invalid(`itemIdentifier ${JSON.stringify(id)} is not in the batch`);
    failed.set(id, record);
  }
  return { kind: 'partial', failed: [...failed.values()] };
}

function invalid(message: string): BatchOutcome<never> {
  return { kind: 'failure', reason: 'invalid_response', errorType: 'InvalidBatchResponse', message };
}
