// Lambda's actions for the function lifecycle, settings, tag and layer routes of the control-plane API
// (control-api/routes.ts). As in IAM, an operation on one function acts on its ARN; CreateFunction,
// ListFunctions, GetAccountSettings and the layer listings have no resource of their own (Resource "*");
// tags act on the ARN in the path, layers on the layer's ARN.

export interface FunctionApiOperation {
  action: string;
  /** The function the path names (a name or ARN, still URL-encoded): its ARN is the resource. */
  functionName?: string;
  /** Otherwise the resource itself: an ARN, or "*". */
  resource?: string;
}

/** Routes under /<date>/functions/<name>[/<sub>[/<id>]], keyed by method and sub-resource. */
const PER_FUNCTION: Record<string, string> = {
  'GET ': 'GetFunction',
  'DELETE ': 'DeleteFunction',
  'GET configuration': 'GetFunctionConfiguration',
  'PUT configuration': 'UpdateFunctionConfiguration',
  'PUT code': 'UpdateFunctionCode',
  'POST policy': 'AddPermission',
  'GET policy': 'GetPolicy',
  'DELETE policy/': 'RemovePermission',
  'PUT concurrency': 'PutFunctionConcurrency',
  'GET concurrency': 'GetFunctionConcurrency',
  'DELETE concurrency': 'DeleteFunctionConcurrency',
  'POST url': 'CreateFunctionUrlConfig',
  'GET url': 'GetFunctionUrlConfig',
  'PUT url': 'UpdateFunctionUrlConfig',
  'DELETE url': 'DeleteFunctionUrlConfig',
  'GET urls': 'ListFunctionUrlConfigs',
  'PUT event-invoke-config': 'PutFunctionEventInvokeConfig',
  'POST event-invoke-config': 'UpdateFunctionEventInvokeConfig',
  'GET event-invoke-config': 'GetFunctionEventInvokeConfig',
  'DELETE event-invoke-config': 'DeleteFunctionEventInvokeConfig',
  'PUT recursion-config': 'PutFunctionRecursionConfig',
  'GET recursion-config': 'GetFunctionRecursionConfig',
  'PUT provisioned-concurrency': 'PutProvisionedConcurrencyConfig',
  'GET provisioned-concurrency': 'GetProvisionedConcurrencyConfig',
  'DELETE provisioned-concurrency': 'DeleteProvisionedConcurrencyConfig',
};

const FUNCTION_PATH = /^\/\d{4}-\d{2}-\d{2}\/functions\/([^/]+)(?:\/([^/]+)(\/[^/]+)?)?\/?$/;
const FUNCTIONS = /^\/2015-03-31\/functions\/?$/;
const ACCOUNT_SETTINGS = /^\/2016-08-19\/account-settings\/?$/;
const TAGS = /^\/2017-03-31\/tags\/([^/]+)\/?$/;
const LAYERS = /^\/2018-10-31\/layers(?:\/([^/]+)\/versions(?:\/([^/]+)(\/policy(?:\/[^/]+)?)?)?)?\/?$/;

/**
 * The action of a lifecycle, settings, tag or layer request, or undefined when the path is none of them
 * (versions and aliases have their own entry in control-plane-guard.ts).
 */
export function functionApiOperation(
  method: string,
  path: string,
  region: string,
  namespace: string,
  /** The request's query: ListProvisionedConcurrencyConfigs is the Get route with `List=ALL`. */
  query: Record<string, unknown> = {},
): FunctionApiOperation | undefined {
  if (FUNCTIONS.test(path)) {
    if (method === 'POST') return { action: 'lambda:CreateFunction', resource: '*' };
    return method === 'GET' ? { action: 'lambda:ListFunctions', resource: '*' } : undefined;
  }
  if (ACCOUNT_SETTINGS.test(path))
    return method === 'GET' ? { action: 'lambda:GetAccountSettings', resource: '*' } : undefined;
  const tags = TAGS.exec(path);
  if (tags) {
    const action = { POST: 'TagResource', DELETE: 'UntagResource', GET: 'ListTags' }[method];
    return action ? { action: `lambda:${action}`, resource: decode(tags[1]!) } : undefined;
  }
  const layer = LAYERS.exec(path);
  if (layer) return layerOperation(method, layer, region, namespace);
  const fn = FUNCTION_PATH.exec(path);
  if (!fn) return undefined;
  const sub = fn[2] ?? '';
  if (sub === 'versions' || sub === 'aliases') return undefined;
  let action = PER_FUNCTION[`${method} ${sub}${fn[3] && sub === 'policy' ? '/' : ''}`];
  if (!action || (fn[3] && sub !== 'policy')) return undefined;
  if (action === 'GetProvisionedConcurrencyConfig' && query.List === 'ALL')
    action = 'ListProvisionedConcurrencyConfigs';
  return { action: `lambda:${action}`, functionName: fn[1]! };
}

function layerOperation(
  method: string,
  m: RegExpExecArray,
  region: string,
  namespace: string,
): FunctionApiOperation | undefined {
  const [, name, version, policy] = m;
  if (name === undefined)
    return method === 'GET' ? { action: 'lambda:ListLayers', resource: '*' } : undefined;
  const arn = `arn:serval:lambda:${region}:${namespace}:layer:${decode(name)}`;
  if (version === undefined) {
    if (method === 'POST') return { action: 'lambda:PublishLayerVersion', resource: arn };
    return method === 'GET' ? { action: 'lambda:ListLayerVersions', resource: arn } : undefined;
  }
  const versionArn = `${arn}:${decode(version)}`;
  if (policy === undefined) {
    const action = { GET: 'GetLayerVersion', DELETE: 'DeleteLayerVersion' }[method];
    return action ? { action: `lambda:${action}`, resource: versionArn } : undefined;
  }
  const action = policy.startsWith('/policy/')
    ? method === 'DELETE' && 'RemoveLayerVersionPermission'
    : { POST: 'AddLayerVersionPermission', GET: 'GetLayerVersionPolicy' }[method];
  return action ? { action: `lambda:${action}`, resource: versionArn } : undefined;
}

/** A path segment as the route sees it; a malformed escape stays as sent (the route refuses it). */
function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
