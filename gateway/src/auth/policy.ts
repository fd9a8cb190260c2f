// IAM-style policy evaluation, pure and synchronous: an explicit Deny wins; within a namespace an identity
// or a resource Allow is enough; across namespaces both are needed; anonymous callers match only "*".
import type { PolicyStatement } from '../../../apis/function.ts';
import { Condition, type ContextLookup, type ContextValues, Pattern } from './conditions.ts';

export const INVOKE_FUNCTION = 'lambda:InvokeFunction';
export const INVOKE_FUNCTION_URL = 'lambda:InvokeFunctionUrl';

/** An authenticated caller, derived from a verified token. */
export interface Principal {
  /** `serval:<issuer>:<subject>`, as resource policies name a single caller. */
  id: string;
  /** The name of the configured issuer that vouched for the caller. */
  issuer: string;
  subject: string;
  /** The namespace the caller belongs to: the "account" of the cross-namespace rule. */
  namespace: string;
  groups: readonly string[];
  /** The verified claims, for `jwt:<claim>` condition keys. */
  claims: Readonly<Record<string, unknown>>;
}

export interface AuthorizationRequest {
  action: string;
  /** The function ARN as called: qualified exactly when the call named a qualifier. */
  resource: string;
  resourceNamespace: string;
  /** undefined for an anonymous caller (a function URL with authType NONE). */
  principal: Principal | undefined;
  sourceIp: string;
  secureTransport: boolean;
  functionUrlAuthType?: 'NONE' | 'JWT' | undefined;
}

/** Statements bound, in gateway configuration, to callers by id, group or namespace (wildcards allowed). */
export interface IdentityPolicy {
  name?: string | undefined;
  /** `serval:<issuer>:<subject>` patterns. */
  principals?: string[] | undefined;
  /** `<issuer>:<group>` patterns. */
  groups?: string[] | undefined;
  /** Namespace patterns: every caller of a matching namespace. */
  namespaces?: string[] | undefined;
  statements: PolicyStatement[];
}

export type Decision =
  | { allowed: true; by: 'identity' | 'resource' | 'both' }
  | { allowed: false; reason: 'explicit-deny'; in: 'identity' | 'resource'; sid?: string | undefined }
  | { allowed: false; reason: 'no-allow' | 'needs-identity-allow' | 'needs-resource-allow' };

type PrincipalMatch = 'anyone' | { namespaces: ReadonlySet<string>; ids: ReadonlySet<string> };

export interface CompiledStatement {
  sid: string | undefined;
  effect: 'Allow' | 'Deny';
  principal: PrincipalMatch | undefined;
  actions: Pattern[];
  resources: Pattern[];
  conditions: Condition[];
}

export interface CompiledIdentityPolicy {
  name: string;
  principals: Pattern[];
  groups: Pattern[];
  namespaces: Pattern[];
  statements: CompiledStatement[];
}

const list = (x: string | string[] | undefined): string[] =>
  x === undefined ? [] : Array.isArray(x) ? x : [x];

/**
 * Compiles statements once. `defaultResources` stands in for an omitted Resource (a function's own
 * policy covers the function and its qualifiers); without it such a statement matches nothing.
 */
export function compileStatements(
  statements: readonly PolicyStatement[],
  defaultResources: readonly string[] = [],
): CompiledStatement[] {
  return statements.map((s) => ({
    sid: s.Sid,
    effect: s.Effect,
    principal: s.Principal === undefined ? undefined : compilePrincipal(s.Principal),
    actions: list(s.Action).map((a) => new Pattern(a, true)),
    resources: (s.Resource === undefined ? [...defaultResources] : list(s.Resource)).map(
      (r) => new Pattern(r),
    ),
    conditions: Object.entries(s.Condition ?? {}).flatMap(([operator, keys]) =>
      Object.entries(keys).map(([key, values]) => new Condition(operator, key, values)),
    ),
  }));
}

/** The resources a function's policy statement covers when it names none: the function and every qualifier. */
export function ownResources(functionArn: string): string[] {
  return [functionArn, `${functionArn}:*`];
}

export function compileIdentityPolicies(policies: readonly IdentityPolicy[]): CompiledIdentityPolicy[] {
  return policies.map((p, i) => ({
    name: p.name ?? `identityPolicies[${i}]`,
    principals: list(p.principals).map((x) => new Pattern(x)),
    groups: list(p.groups).map((x) => new Pattern(x)),
    namespaces: list(p.namespaces).map((x) => new Pattern(x)),
    statements: compileStatements(p.statements),
  }));
}

function compilePrincipal(p: NonNullable<PolicyStatement['Principal']>): PrincipalMatch {
  if (p === '*') return 'anyone';
  const entries = list(p.Serval);
  if (entries.includes('*')) return 'anyone';
  return {
    namespaces: new Set(entries.filter((e) => !e.includes(':'))),
    ids: new Set(entries.filter((e) => e.includes(':'))),
  };
}

export function evaluate(
  request: AuthorizationRequest,
  identityPolicies: readonly CompiledIdentityPolicy[],
  resourcePolicy: readonly CompiledStatement[],
): Decision {
  const lookup = contextOf(request);
  const { principal } = request;
  const applies = (s: CompiledStatement) =>
    s.actions.some((a) => a.matches(request.action, lookup)) &&
    s.resources.some((r) => r.matches(request.resource, lookup)) &&
    s.conditions.every((c) => c.holds(lookup));

  let identityAllow = false;
  if (principal) {
    for (const policy of identityPolicies) {
      if (!bindsTo(policy, principal, lookup)) continue;
      for (const s of policy.statements) {
        if (!applies(s)) continue;
        if (s.effect === 'Deny')
          return { allowed: false, reason: 'explicit-deny', in: 'identity', sid: s.sid };
        identityAllow = true;
      }
    }
  }
  let resourceAllow = false;
  for (const s of resourcePolicy) {
    if (!principalMatches(s.principal, principal) || !applies(s)) continue;
    if (s.effect === 'Deny') return { allowed: false, reason: 'explicit-deny', in: 'resource', sid: s.sid };
    resourceAllow = true;
  }

  if (!principal || principal.namespace !== request.resourceNamespace) {
    // Anonymous callers have no identity policies; a resource policy alone decides for them.
    if (!principal)
      return resourceAllow ? { allowed: true, by: 'resource' } : { allowed: false, reason: 'no-allow' };
    if (identityAllow && resourceAllow) return { allowed: true, by: 'both' };
    if (!identityAllow && !resourceAllow) return { allowed: false, reason: 'no-allow' };
    return { allowed: false, reason: identityAllow ? 'needs-resource-allow' : 'needs-identity-allow' };
  }
  if (identityAllow) return { allowed: true, by: resourceAllow ? 'both' : 'identity' };
  return resourceAllow ? { allowed: true, by: 'resource' } : { allowed: false, reason: 'no-allow' };
}

function bindsTo(policy: CompiledIdentityPolicy, principal: Principal, lookup: ContextLookup): boolean {
  return (
    policy.principals.some((p) => p.matches(principal.id, lookup)) ||
    policy.namespaces.some((p) => p.matches(principal.namespace, lookup)) ||
    principal.groups.some((g) => policy.groups.some((p) => p.matches(`${principal.issuer}:${g}`, lookup)))
  );
}

function principalMatches(match: PrincipalMatch | undefined, principal: Principal | undefined): boolean {
  if (match === 'anyone') return true;
  if (!match || !principal) return false;
  return match.ids.has(principal.id) || match.namespaces.has(principal.namespace);
}

/** The request context: condition keys (lower-cased) and `jwt:<claim>` (claim name as written). */
function contextOf(r: AuthorizationRequest): ContextLookup {
  const p = r.principal;
  return (key: string): ContextValues => {
    switch (key) {
      case 'serval:sourceip':
        return r.sourceIp ? [r.sourceIp] : undefined;
      case 'serval:securetransport':
        return [String(r.secureTransport)];
      case 'serval:principalid':
        return p && [p.id];
      case 'serval:principalnamespace':
        return p && [p.namespace];
      case 'serval:issuer':
        return p && [p.issuer];
      case 'lambda:functionurlauthtype':
        return r.functionUrlAuthType && [r.functionUrlAuthType];
      case 'jwt:groups':
        return p?.groups; // the issuer's group mapping, not only the raw claim
    }
    if (!p || !key.startsWith('jwt:')) return undefined;
    return claimValues(p.claims[key.slice(4)]);
  };
}

function claimValues(claim: unknown): ContextValues {
  const scalar = (v: unknown) =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
  if (Array.isArray(claim)) {
    const values = claim.map(scalar);
    return values.every((v) => v !== undefined) ? (values as string[]) : undefined;
  }
  const one = scalar(claim);
  return one === undefined ? undefined : [one];
}
