// `serval publish` and `serval alias`: thin clients of the gateway's Lambda control API, and the one
// request helper the other control commands (cli/functions.ts) use.

export interface ControlOptions {
  endpoint: string;
  /** A bearer JWT for gateways with auth on (--token or SERVAL_TOKEN). */
  token?: string | undefined;
  out: (line: string) => void;
}

export class ControlApiError extends Error {}

/** Request headers for the gateway: JSON, and the caller's token when there is one. */
export function requestHeaders(token: string | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

function call(o: ControlOptions, method: string, path: string, body?: unknown) {
  return callApi(o, method, `/2015-03-31/functions/${path}`, body);
}

/** One Lambda API call; `path` is the whole route (each operation has its own API version date). */
export async function callApi(o: ControlOptions, method: string, path: string, body?: unknown) {
  const endpoint = o.endpoint;
  let res: Response;
  try {
    res = await fetch(`${endpoint}${path}`, {
      method,
      headers: requestHeaders(o.token),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ControlApiError(
      `cannot reach Serval at ${endpoint} (is \`serval dev\` running? set --endpoint)`,
    );
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), json };
}

export function fail(r: { type: string | null; json: Record<string, unknown> }): never {
  throw new ControlApiError(
    `${r.type ?? 'Error'}: ${String(r.json.message ?? r.json.Message ?? 'request failed')}`,
  );
}

export async function publish(fn: string, description: string | undefined, o: ControlOptions): Promise<void> {
  const r = await call(
    o,
    'POST',
    `${encodeURIComponent(fn)}/versions`,
    description ? { Description: description } : {},
  );
  if (r.status !== 201) fail(r);
  o.out(`${fn}: version ${String(r.json.Version)} (${String(r.json.FunctionArn)})`);
}

/** Creates the alias, or updates it when it exists. `weight` is `VERSION=WEIGHT`. */
export async function alias(
  fn: string,
  name: string,
  version: string,
  weight: string | undefined,
  o: ControlOptions,
): Promise<void> {
  const body: Record<string, unknown> = { Name: name, FunctionVersion: version };
  if (weight !== undefined) {
    const [extra, w] = weight.split('=');
    if (!extra || w === undefined || Number.isNaN(Number(w)))
      throw new ControlApiError('--weight takes VERSION=WEIGHT, e.g. 3=0.1');
    body.RoutingConfig = { AdditionalVersionWeights: { [extra]: Number(w) } };
  }
  const path = `${encodeURIComponent(fn)}/aliases`;
  const existing = await call(o, 'GET', `${path}/${encodeURIComponent(name)}`);
  const r =
    existing.status === 200
      ? await call(o, 'PUT', `${path}/${encodeURIComponent(name)}`, body)
      : await call(o, 'POST', path, body);
  if (r.status !== 200 && r.status !== 201) fail(r);
  const weights = (r.json.RoutingConfig as { AdditionalVersionWeights?: Record<string, number> } | undefined)
    ?.AdditionalVersionWeights;
  const routing =
    weights && Object.keys(weights).length
      ? `, ${Object.entries(weights)
          .map(([v, w]) => `${w * 100}% to ${v}`)
          .join(', ')}`
      : '';
  o.out(`${fn}:${name} -> version ${String(r.json.FunctionVersion)}${routing}`);
}
