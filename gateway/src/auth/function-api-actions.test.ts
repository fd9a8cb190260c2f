import { describe, expect, it } from 'vitest';
import { functionApiOperation } from './function-api-actions.ts';

const op = (method: string, path: string) => functionApiOperation(method, path, 'local', 'default');

describe('functionApiOperation', () => {
  it.each([
    ['POST', '/2015-03-31/functions', 'CreateFunction'],
    ['GET', '/2015-03-31/functions/', 'ListFunctions'],
    ['GET', '/2016-08-19/account-settings', 'GetAccountSettings'],
    ['GET', '/2018-10-31/layers', 'ListLayers'],
  ])('%s %s is lambda:%s on "*"', (method, path, action) => {
    expect(op(method, path)).toEqual({ action: `lambda:${action}`, resource: '*' });
  });

  it.each([
    ['GET', '/2015-03-31/functions/f', 'GetFunction'],
    ['DELETE', '/2015-03-31/functions/f', 'DeleteFunction'],
    ['GET', '/2015-03-31/functions/f/configuration', 'GetFunctionConfiguration'],
    ['PUT', '/2015-03-31/functions/f/configuration', 'UpdateFunctionConfiguration'],
    ['PUT', '/2015-03-31/functions/f/code', 'UpdateFunctionCode'],
    ['POST', '/2015-03-31/functions/f/policy', 'AddPermission'],
    ['GET', '/2015-03-31/functions/f/policy', 'GetPolicy'],
    ['DELETE', '/2015-03-31/functions/f/policy/sid-1', 'RemovePermission'],
    ['PUT', '/2017-10-31/functions/f/concurrency', 'PutFunctionConcurrency'],
    ['GET', '/2019-09-30/functions/f/concurrency', 'GetFunctionConcurrency'],
    ['DELETE', '/2017-10-31/functions/f/concurrency', 'DeleteFunctionConcurrency'],
    ['POST', '/2021-10-31/functions/f/url', 'CreateFunctionUrlConfig'],
    ['GET', '/2021-10-31/functions/f/urls', 'ListFunctionUrlConfigs'],
    ['PUT', '/2019-09-25/functions/f/event-invoke-config', 'PutFunctionEventInvokeConfig'],
    ['POST', '/2019-09-25/functions/f/event-invoke-config', 'UpdateFunctionEventInvokeConfig'],
    ['PUT', '/2024-08-31/functions/f/recursion-config', 'PutFunctionRecursionConfig'],
    ['PUT', '/2019-09-30/functions/f/provisioned-concurrency', 'PutProvisionedConcurrencyConfig'],
    ['GET', '/2019-09-30/functions/f/provisioned-concurrency', 'GetProvisionedConcurrencyConfig'],
    ['DELETE', '/2019-09-30/functions/f/provisioned-concurrency', 'DeleteProvisionedConcurrencyConfig'],
  ])('%s %s is lambda:%s on the function', (method, path, action) => {
    expect(op(method, path)).toEqual({ action: `lambda:${action}`, functionName: 'f' });
  });

  it('tells ListProvisionedConcurrencyConfigs (List=ALL) from the Get on the same path', () => {
    const path = '/2019-09-30/functions/f/provisioned-concurrency';
    expect(functionApiOperation('GET', path, 'local', 'default', { List: 'ALL' })).toEqual({
      action: 'lambda:ListProvisionedConcurrencyConfigs',
      functionName: 'f',
    });
  });

  it('acts on the ARN in the path for tags, and on the layer ARN for layers', () => {
    const arn = 'arn:serval:lambda:local:default:function:f';
    expect(op('POST', `/2017-03-31/tags/${encodeURIComponent(arn)}`)).toEqual({
      action: 'lambda:TagResource',
      resource: arn,
    });
    const layer = 'arn:serval:lambda:local:default:layer:lib';
    expect(op('POST', '/2018-10-31/layers/lib/versions')?.resource).toBe(layer);
    expect(op('DELETE', '/2018-10-31/layers/lib/versions/3')).toEqual({
      action: 'lambda:DeleteLayerVersion',
      resource: `${layer}:3`,
    });
    expect(op('DELETE', '/2018-10-31/layers/lib/versions/3/policy/s')?.action).toBe(
      'lambda:RemoveLayerVersionPermission',
    );
  });

  it('leaves versions, aliases and unknown operations to the rest of the guard', () => {
    expect(op('POST', '/2015-03-31/functions/f/versions')).toBeUndefined();
    expect(op('GET', '/2015-03-31/functions/f/aliases/live')).toBeUndefined();
    expect(op('PATCH', '/2015-03-31/functions/f')).toBeUndefined();
    expect(op('GET', '/2015-03-31/functions/f/code/extra')).toBeUndefined();
  });
});
