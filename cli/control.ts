// `serval publish` and `serval alias`: thin clients of the gateway's Lambda control API, and the one
// request helper every command that talks to a running gateway uses (cli/functions.ts, keys, queue).
import { type SigningCredentials, signRequest } from '../apis/sigv4.ts';

export interface ControlOptions {
  endpoint: string;
  /** A bearer JWT for gateways with auth on (--token or SERVAL_TOKEN). */
  token?: string | undefined;
  /** Without a token: a Serval-issued access key to sign with SigV4 (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY). */
  credentials?: SigningCredentials | undefined;
  /** The gateway's region, for the SigV4 scope (SERVAL_REGION, else AWS_REGION, else local). */
  region?: string | undefined;
  out: (line: string) => void;
}

export class ControlApiError extends Error {}

/**
 * One Lambda API call; `path` is the whole route (each operation has its own API version date). It is
 * authenticated with the token, else signed with the access key (SigV4), else sent as it is.
 */
export async function callApi(o: ControlOptions, method: string, path: string, body?: unknown) {
  const url = `${o.endpoint}${path}`;
  const text = body === undefined ? '' : JSON.stringify(body);
  let headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  else if (o.credentials) {
    headers = signRequest(
      o.credentials,
      { method, url, headers, body: text },
      o.region ?? 'local',
      new Date(),
    );
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: body === undefined ? undefined : text });
  } catch {
    throw new ControlApiError(
      `cannot reach Serval at ${o.endpoint} (is \`serval dev\` running? set --endpoint)`,
    );
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { status: res.status, type: res.headers.get('x-amzn-errortype'), json };
}

/** A call to the operator API (`/serval/v1/<path>`): the JSON answer, or ControlApiError in its words. */
export async function operatorCall(
  o: ControlOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<Record<string, unknown>> {
  const r = await callApi(o, method, `/serval/v1/${path}`, body);
  if (r.status >= 400) fail(r);
  return r.json;
}

const call = (o: ControlOptions, method: string, path: string, body?: unknown) =>
  callApi(o, method, `/2015-03-31/functions/${path}`, body);

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
