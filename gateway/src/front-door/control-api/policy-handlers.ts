// AddPermission, GetPolicy and RemovePermission onto the function's resource policy (`spec.policy`, in
// Serval's policy grammar, docs/auth.md), in local mode and in a cluster alike (setting-store.ts).
import type { Request, Response } from 'express';
import { ApiError } from '../../../../apis/errors.ts';
import { type FunctionSpec, type PolicyStatement, PolicyStatementSchema } from '../../../../apis/function.ts';
import { functionArn } from '../../registry/function-definition.ts';
import type { FunctionChanges } from './function-changes.ts';
import { objectBody, query } from './function-handlers.ts';
import type { SettingStore } from './setting-store.ts';

export function policyHandlers(changes: FunctionChanges, settings: SettingStore) {
  const { config } = changes.deps;
  const found = (req: Request) => changes.find(String(req.params.functionName), query(req, 'Qualifier'));

  return {
    async addPermission(req: Request, res: Response) {
      const { fn, qualifier } = found(req);
      const body = objectBody(req);
      const statement = statementOf(body, functionArn(config.region, fn.namespace, fn.name, qualifier));
      const revision = typeof body.RevisionId === 'string' ? body.RevisionId : undefined;
      await settings.commit(fn, revision, (r) => {
        const statements = r.spec.policy?.statements ?? [];
        if (statements.some((s) => s.Sid === statement.Sid))
          throw new ApiError(
            'ResourceConflictException',
            `The statement id (${statement.Sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
          );
        return { ...r, spec: { ...r.spec, policy: { statements: [...statements, statement] } } };
      });
      res.status(201).json({ Statement: JSON.stringify(statement) });
    },
    getPolicy(req: Request, res: Response) {
      const { fn } = found(req);
      const statements = fn.spec.policy?.statements ?? [];
      if (statements.length === 0)
        throw new ApiError('ResourceNotFoundException', 'The resource you requested does not exist.');
      res.json({
        Policy: JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: statements }),
        RevisionId: settings.record(fn)?.revisionId ?? '',
      });
    },
    async removePermission(req: Request, res: Response) {
      const { fn } = found(req);
      const sid = String(req.params.statementId);
      await settings.commit(fn, query(req, 'RevisionId'), (r) => {
        const statements = r.spec.policy?.statements ?? [];
        const kept = statements.filter((s) => s.Sid !== sid);
        if (kept.length === statements.length)
          throw new ApiError(
            'ResourceNotFoundException',
            `Statement ${sid} is not found in resource policy.`,
          );
        const { policy: _, ...spec } = r.spec;
        return {
          ...r,
          spec: kept.length ? { ...spec, policy: { statements: kept } } : (spec as FunctionSpec),
        };
      });
      res.status(204).end();
    },
  };
}

/** AddPermission's parameters as a statement of Serval's policy grammar. */
function statementOf(body: Record<string, unknown>, resource: string): PolicyStatement {
  const principal = body.Principal;
  const candidate = {
    Sid: body.StatementId,
    Effect: 'Allow',
    Principal: principal === '*' ? '*' : { Serval: principal },
    Action: body.Action,
    Resource: resource,
  };
  for (const unsupported of ['SourceArn', 'SourceAccount', 'PrincipalOrgID', 'EventSourceToken'])
    if (body[unsupported] !== undefined)
      throw new ApiError('InvalidParameterValueException', `${unsupported}: is not supported by Serval`);
  if (typeof body.StatementId !== 'string' || !/^[a-zA-Z0-9-_]{1,100}$/.test(body.StatementId))
    throw new ApiError('InvalidParameterValueException', 'StatementId: must be 1-100 of [a-zA-Z0-9-_]');
  const parsed = PolicyStatementSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field =
      issue.path[0] === 'Principal' ? 'Principal' : issue.path[0] === 'Action' ? 'Action' : 'Statement';
    const hint = field === 'Principal' ? ' (*, a namespace or serval:<issuer>:<subject>)' : '';
    throw new ApiError('InvalidParameterValueException', `${field}: ${issue.message}${hint}`);
  }
  return parsed.data;
}
