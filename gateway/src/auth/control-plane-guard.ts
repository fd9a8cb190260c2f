// Authorization in front of the control plane: the version and alias operations (Lambda's own action
// names, on the function or alias ARN), the operator API under /serval/v1/ (identity policies only), and
// the event source mapping API (event-source-mapping-actions.ts), the function lifecycle, settings, tag and
// layer routes (function-api-actions.ts), and every other Lambda API path, closed unless a policy grants "*".
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { parseFunctionRef } from '../front-door/function-ref.ts';
import { type Authorizer, callerOf } from './authorizer.ts';
import { eventSourceMappingOperation, mappingArn } from './event-source-mapping-actions.ts';
import { functionApiOperation } from './function-api-actions.ts';

const FUNCTION_OPERATION = /^\/2015-03-31\/functions\/([^/]+)\/(versions|aliases)(?:\/([^/]+))?\/?$/;
export const OPERATOR_API = '/serval/v1/';
/** Lambda API paths start with their API version date. */
export const LAMBDA_API = /^\/\d{4}-\d{2}-\d{2}\//;
/**
 * The action for a Lambda API path this guard has no entry for: only a policy granting "*" covers it, so
 * a route added later stays closed until it is given its own action here.
 */
export const UNLISTED_LAMBDA_API = 'serval:UnlistedLambdaApi';

/** Lambda's action for each control-plane route (method, collection, whether an alias is named). */
function lambdaAction(method: string, collection: string, named: boolean): string | undefined {
  if (collection === 'versions' && !named) {
    return method === 'POST'
      ? 'lambda:PublishVersion'
      : method === 'GET'
        ? 'lambda:ListVersionsByFunction'
        : undefined;
  }
  if (!named)
    return method === 'POST' ? 'lambda:CreateAlias' : method === 'GET' ? 'lambda:ListAliases' : undefined;
  if (method === 'GET') return 'lambda:GetAlias';
  if (method === 'PUT') return 'lambda:UpdateAlias';
  return method === 'DELETE' ? 'lambda:DeleteAlias' : undefined;
}

export function controlPlaneGuard(
  authorizer: Authorizer,
  defaultNamespace: string,
  region: string,
  /** The namespace of an event source mapping, for its ARN; unknown UUIDs are taken as the default's. */
  mappingNamespace: (uuid: string) => string | undefined = () => undefined,
): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (!authorizer.enabled) return next();
    const path = req.path;
    if (path.startsWith(OPERATOR_API)) {
      const action = `serval:${req.method === 'GET' ? 'Read' : 'Operate'}OperatorApi`;
      authorizer
        .authorizeGatewayOperation(callerOf(req), action, `arn:serval:gateway:${region}::${path.slice(1)}`)
        .then(() => next(), next);
      return;
    }
    const mapping = eventSourceMappingOperation(req.method, path);
    if (mapping) {
      const resource = mapping.uuid
        ? mappingArn(region, mappingNamespace(mapping.uuid) ?? defaultNamespace, mapping.uuid)
        : '*';
      authorizer.authorizeGatewayOperation(callerOf(req), mapping.action, resource).then(() => next(), next);
      return;
    }
    const operation = functionApiOperation(req.method, path, region, defaultNamespace, req.query);
    if (operation?.resource !== undefined) {
      authorizer
        .authorizeGatewayOperation(callerOf(req), operation.action, operation.resource)
        .then(() => next(), next);
      return;
    }
    if (operation?.functionName !== undefined) {
      let target: ReturnType<typeof parseFunctionRef>;
      try {
        target = parseFunctionRef(decodeURIComponent(operation.functionName), undefined, defaultNamespace);
      } catch {
        // Not a function name: the caller is still authenticated first (401 before 400), on the path itself;
        // the route then says what is wrong with the name.
        authorizer
          .authorizeGatewayOperation(
            callerOf(req),
            operation.action,
            `arn:serval:gateway:${region}::${path.slice(1)}`,
          )
          .then(() => next(), next);
        return;
      }
      authorizer.authorizeFunction(callerOf(req), target, operation.action).then(() => next(), next);
      return;
    }
    const m = FUNCTION_OPERATION.exec(path);
    const action = m && lambdaAction(req.method, m[2]!, m[3] !== undefined);
    if (!m || !action) {
      // The invocation routes answered before this guard; any other Lambda API path is closed by default.
      if (!LAMBDA_API.test(path)) return next();
      authorizer
        .authorizeGatewayOperation(
          callerOf(req),
          UNLISTED_LAMBDA_API,
          `arn:serval:gateway:${region}::${path.slice(1)}`,
        )
        .then(() => next(), next);
      return;
    }
    let target: ReturnType<typeof parseFunctionRef>;
    try {
      target = parseFunctionRef(decodeURIComponent(m[1]!), undefined, defaultNamespace);
      // Alias operations act on the alias ARN, as in Lambda; version operations on the function.
      target.qualifier = m[3] === undefined ? undefined : decodeURIComponent(m[3]);
    } catch (err) {
      return next(err);
    }
    authorizer.authorizeFunction(callerOf(req), target, action).then(() => next(), next);
  };
}
