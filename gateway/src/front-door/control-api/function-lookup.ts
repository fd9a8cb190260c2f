// The function a control-plane path names ($LATEST's definition), or Lambda's 404 for it.
import { ApiError } from '../../../../apis/errors.ts';
import type { GatewayConfig } from '../../config.ts';
import { type FunctionDefinition, functionArn } from '../../registry/function-definition.ts';
import type { FunctionRegistry } from '../../registry/function-registry.ts';
import { parseFunctionRef } from '../function-ref.ts';

export function namedFunction(
  config: GatewayConfig,
  registry: FunctionRegistry,
  rawName: string,
): FunctionDefinition {
  const ref = parseFunctionRef(rawName, undefined, config.defaultNamespace, config.region);
  const fn = registry.get(ref.namespace, ref.name);
  if (!fn) {
    throw new ApiError(
      'ResourceNotFoundException',
      `Function not found: ${functionArn(config.region, ref.namespace, ref.name)}`,
    );
  }
  return fn;
}
