// `serval functions …` and `serval layers …`: thin clients of the gateway's Lambda control-plane API (the
// same calls the AWS CLI makes), for people without the AWS tools at hand.
import { readFileSync } from 'node:fs';
import { ControlApiError, type ControlOptions, callApi, fail } from './control.ts';

export interface CreateOptions {
  runtime: string;
  handler?: string | undefined;
  zip: string;
  role?: string | undefined;
  layers?: string[] | undefined;
}

const DEFAULT_ROLE = 'arn:aws:iam::000000000000:role/serval';

function zipBase64(file: string): string {
  try {
    return readFileSync(file).toString('base64');
  } catch {
    throw new ControlApiError(`cannot read ${file}`);
  }
}

const fnPath = (name: string, rest = '') => `/2015-03-31/functions/${encodeURIComponent(name)}${rest}`;

export async function createFunction(name: string, c: CreateOptions, o: ControlOptions): Promise<void> {
  const r = await callApi(o, 'POST', '/2015-03-31/functions', {
    FunctionName: name,
    Runtime: c.runtime,
    Handler: c.handler,
    Role: c.role ?? DEFAULT_ROLE,
    Code: { ZipFile: zipBase64(c.zip) },
    ...(c.layers?.length ? { Layers: c.layers } : {}),
  });
  if (r.status !== 201) fail(r);
  o.out(`${name}: created (${String(r.json.FunctionArn)}, CodeSha256 ${String(r.json.CodeSha256)})`);
}

export async function updateFunctionCode(name: string, zip: string, o: ControlOptions): Promise<void> {
  const r = await callApi(o, 'PUT', fnPath(name, '/code'), { ZipFile: zipBase64(zip) });
  if (r.status !== 200) fail(r);
  o.out(`${name}: code updated (CodeSha256 ${String(r.json.CodeSha256)})`);
}

export async function listFunctions(o: ControlOptions): Promise<void> {
  let marker: string | undefined;
  do {
    const r = await callApi(o, 'GET', `/2015-03-31/functions/${marker ? `?Marker=${marker}` : ''}`);
    if (r.status !== 200) fail(r);
    for (const f of r.json.Functions as Array<Record<string, unknown>>)
      o.out(`${String(f.FunctionName).padEnd(32)} ${String(f.Runtime).padEnd(16)} ${String(f.LastModified)}`);
    marker = r.json.NextMarker as string | undefined;
  } while (marker);
}

export async function getFunction(name: string, o: ControlOptions): Promise<void> {
  const r = await callApi(o, 'GET', fnPath(name));
  if (r.status !== 200) fail(r);
  o.out(JSON.stringify(r.json, null, 2));
}

export async function deleteFunction(name: string, o: ControlOptions): Promise<void> {
  const r = await callApi(o, 'DELETE', fnPath(name));
  if (r.status !== 204) fail(r);
  o.out(`${name}: deleted`);
}

export async function publishLayer(
  name: string,
  zip: string,
  runtimes: string[],
  o: ControlOptions,
): Promise<void> {
  const r = await callApi(o, 'POST', `/2018-10-31/layers/${encodeURIComponent(name)}/versions`, {
    Content: { ZipFile: zipBase64(zip) },
    ...(runtimes.length ? { CompatibleRuntimes: runtimes } : {}),
  });
  if (r.status !== 201) fail(r);
  o.out(`${name}: version ${String(r.json.Version)} (${String(r.json.LayerVersionArn)})`);
}

export async function listLayers(o: ControlOptions): Promise<void> {
  const r = await callApi(o, 'GET', '/2018-10-31/layers');
  if (r.status !== 200) fail(r);
  for (const l of r.json.Layers as Array<{
    LayerName: string;
    LatestMatchingVersion: { LayerVersionArn: string };
  }>)
    o.out(`${l.LayerName.padEnd(32)} ${l.LatestMatchingVersion.LayerVersionArn}`);
}
