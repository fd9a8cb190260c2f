// Rollback conditions as PromQL against the Prometheus HTTP API (GET /api/v1/query). A condition holds when
// the instant query returns any sample with a non-zero value, as an alert rule's expression fires.

/** How the target version looks: fine, past a threshold (roll back), or not to be judged now (pause). */
export type Verdict =
  | { kind: 'healthy' }
  | { kind: 'breach'; reason: string }
  /** The query could not be judged: Prometheus unreachable, a broken query, an unexpected answer. */
  | { kind: 'unknown'; reason: string };

export interface PromQlPlaceholders {
  namespace: string;
  function: string;
  alias: string;
  version: string;
}

/** Replaces `{{namespace}}`, `{{function}}`, `{{alias}}` and `{{version}}`; other braces are left alone. */
export function expandPlaceholders(query: string, values: PromQlPlaceholders): string {
  return query.replace(
    /\{\{(namespace|function|alias|version)\}\}/g,
    (_m, key: keyof PromQlPlaceholders) => values[key],
  );
}

interface QueryAnswer {
  status?: string;
  errorType?: string;
  error?: string;
  data?: { resultType?: string; result?: unknown };
}

export async function evaluatePromQl(
  prometheusUrl: string,
  query: string,
  timeoutMs = 5000,
): Promise<Verdict> {
  const url = `${prometheusUrl.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(query)}`;
  let answer: QueryAnswer;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    answer = (await res.json().catch(() => ({}))) as QueryAnswer;
    if (answer.status !== 'success') {
      const why = answer.error ? `${answer.errorType ?? 'error'}: ${answer.error}` : `HTTP ${res.status}`;
      return { kind: 'unknown', reason: `PromQL query '${query}' failed: ${why}` };
    }
  } catch (err) {
    const why =
      err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    return { kind: 'unknown', reason: `Prometheus at ${prometheusUrl} is unreachable: ${why}` };
  }
  const firing = firingValues(answer.data);
  if (firing === undefined)
    return { kind: 'unknown', reason: `PromQL query '${query}' gave an unexpected answer` };
  if (firing.length === 0) return { kind: 'healthy' };
  return { kind: 'breach', reason: `PromQL condition '${query}' returned ${firing.join(', ')}` };
}

/** The non-zero values of an instant-query answer; undefined when it is not a vector or scalar. */
function firingValues(data: QueryAnswer['data']): string[] | undefined {
  if (data?.resultType === 'scalar') {
    const [, value] = (data.result as [number, string]) ?? [];
    return Number(value) !== 0 && value !== undefined ? [value] : [];
  }
  if (data?.resultType !== 'vector' || !Array.isArray(data.result)) return undefined;
  return (data.result as Array<{ value?: [number, string] }>)
    .map((s) => s.value?.[1])
    .filter((v): v is string => v !== undefined && Number(v) !== 0);
}
