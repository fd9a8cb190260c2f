// The policy evaluator as a table: deny precedence, wildcards, qualifiers, every condition operator,
// same- vs cross-namespace callers, anonymous callers of NONE URLs and callers of JWT URLs.
import { describe, expect, it } from 'vitest';
import { type PolicyStatement, PolicyStatementSchema } from '../../apis/function.ts';
import {
  type AuthorizationRequest,
  compileIdentityPolicies,
  compileStatements,
  type Decision,
  evaluate,
  type IdentityPolicy,
  ownResources,
  type Principal,
} from '../../gateway/src/auth/policy.ts';

const FN = 'arn:serval:lambda:local:media:function:thumb';
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved by the evaluator
const OWN_NAMESPACE = 'arn:serval:lambda:*:${serval:PrincipalNamespace}:function:*';
const INVOKE = 'lambda:InvokeFunction';
const URL = 'lambda:InvokeFunctionUrl';

const principal = (sub: string, namespace: string, groups: string[], claims: Record<string, unknown> = {}) =>
  ({
    id: `serval:corp:${sub}`,
    issuer: 'corp',
    subject: sub,
    namespace,
    groups,
    claims: { sub, groups, ...claims },
  }) satisfies Principal;
const alice = principal('alice', 'media', ['admins'], { email: 'alice@example.com', tier: 'gold' });
const bob = principal('bob', 'media', ['dev', 'ops']);
const carol = principal('carol', 'analytics', ['dev']); // another namespace

interface Case {
  name: string;
  who: Principal | undefined;
  action?: string;
  /** The ARN as called. */
  resource?: string;
  identity?: IdentityPolicy[];
  policy?: PolicyStatement[];
  sourceIp?: string;
  secure?: boolean;
  urlAuthType?: 'NONE' | 'JWT';
  /** true, or the reason of the refusal. */
  expect: true | Exclude<Decision, { allowed: true }>['reason'];
  denyIn?: 'identity' | 'resource';
}

const allow = (extra: Partial<PolicyStatement> = {}): PolicyStatement => ({
  Effect: 'Allow',
  Action: INVOKE,
  Resource: FN,
  ...extra,
});
const deny = (extra: Partial<PolicyStatement> = {}): PolicyStatement => ({ ...allow(extra), Effect: 'Deny' });
/** An identity policy bound to the callers of namespace media and analytics alike. */
const everyone = (...statements: PolicyStatement[]): IdentityPolicy[] => [{ namespaces: ['*'], statements }];
const when = (Condition: PolicyStatement['Condition'], extra: Partial<PolicyStatement> = {}) =>
  everyone(allow({ Condition, ...extra }));

const cases: Case[] = [
  // Deny precedence
  { name: 'identity allow alone', who: alice, identity: everyone(allow()), expect: true },
  {
    name: 'identity deny beats identity allow',
    who: alice,
    identity: everyone(allow(), deny()),
    expect: 'explicit-deny',
    denyIn: 'identity',
  },
  {
    name: 'resource deny beats identity allow',
    who: alice,
    identity: everyone(allow()),
    policy: [deny({ Principal: '*' })],
    expect: 'explicit-deny',
    denyIn: 'resource',
  },
  {
    name: 'identity deny beats resource allow',
    who: alice,
    identity: everyone(deny()),
    policy: [allow({ Principal: '*' })],
    expect: 'explicit-deny',
    denyIn: 'identity',
  },
  {
    name: 'deny on lambda:* beats a specific allow',
    who: alice,
    identity: everyone(allow(), deny({ Action: 'lambda:*', Resource: '*' })),
    expect: 'explicit-deny',
  },
  {
    name: 'a deny whose condition holds applies',
    who: alice,
    identity: everyone(allow(), deny({ Condition: { NotIpAddress: { 'serval:SourceIp': '10.0.0.0/8' } } })),
    sourceIp: '192.0.2.7',
    expect: 'explicit-deny',
  },
  {
    name: 'a deny whose condition fails does not apply',
    who: alice,
    identity: everyone(allow(), deny({ Condition: { NotIpAddress: { 'serval:SourceIp': '10.0.0.0/8' } } })),
    sourceIp: '10.9.8.7',
    expect: true,
  },
  {
    name: 'a resource deny for another principal does not apply',
    who: alice,
    identity: everyone(allow()),
    policy: [deny({ Principal: { Serval: 'analytics' } })],
    expect: true,
  },
  { name: 'nothing allows: implicit deny', who: alice, expect: 'no-allow' },

  // Wildcards
  { name: 'Action lambda:*', who: alice, identity: everyone(allow({ Action: 'lambda:*' })), expect: true },
  {
    name: 'Action lambda:Invoke* covers InvokeFunctionUrl',
    who: alice,
    action: URL,
    identity: everyone(allow({ Action: 'lambda:Invoke*' })),
    expect: true,
  },
  {
    name: 'Actions match case-insensitively',
    who: alice,
    identity: everyone(allow({ Action: 'LAMBDA:invokefunction' })),
    expect: true,
  },
  {
    name: 'InvokeFunctionUrl does not grant InvokeFunction',
    who: alice,
    identity: everyone(allow({ Action: URL })),
    expect: 'no-allow',
  },
  { name: 'Resource *', who: alice, identity: everyone(allow({ Resource: '*' })), expect: true },
  {
    name: 'Resource with wildcards for region and name',
    who: alice,
    identity: everyone(allow({ Resource: 'arn:serval:lambda:*:media:function:*' })),
    expect: true,
  },
  {
    name: 'Resource ? matches one character',
    who: alice,
    identity: everyone(allow({ Resource: 'arn:serval:lambda:local:media:function:th?mb' })),
    expect: true,
  },
  {
    name: 'Resource in another namespace does not match',
    who: alice,
    identity: everyone(allow({ Resource: 'arn:serval:lambda:*:analytics:function:*' })),
    expect: 'no-allow',
  },
  {
    name: 'Resources match case-sensitively',
    who: alice,
    identity: everyone(allow({ Resource: 'arn:serval:lambda:local:media:function:Thumb' })),
    expect: 'no-allow',
  },

  // Qualifiers: a statement covers exactly the ARNs it matches, as Lambda's policies do
  {
    name: 'unqualified Resource does not cover a qualified call',
    who: alice,
    resource: `${FN}:prod`,
    identity: everyone(allow()),
    expect: 'no-allow',
  },
  {
    name: 'Resource fn:* does not cover an unqualified call',
    who: alice,
    identity: everyone(allow({ Resource: `${FN}:*` })),
    expect: 'no-allow',
  },
  {
    name: 'Resource fn:* covers an alias',
    who: alice,
    resource: `${FN}:prod`,
    identity: everyone(allow({ Resource: `${FN}:*` })),
    expect: true,
  },
  {
    name: 'Resource fn* covers qualified calls too',
    who: alice,
    resource: `${FN}:7`,
    identity: everyone(allow({ Resource: `${FN}*` })),
    expect: true,
  },
  {
    name: 'alias Resource covers only that alias',
    who: alice,
    resource: `${FN}:7`,
    identity: everyone(allow({ Resource: `${FN}:prod` })),
    expect: 'no-allow',
  },
  {
    name: '$LATEST named explicitly is a qualifier of its own',
    who: alice,
    resource: `${FN}:$LATEST`,
    identity: everyone(allow({ Resource: `${FN}:$LATEST` })),
    expect: true,
  },
  {
    name: "a function policy's statement without Resource covers the function's aliases",
    who: alice,
    resource: `${FN}:prod`,
    policy: [{ Effect: 'Allow', Principal: { Serval: 'media' }, Action: INVOKE }],
    expect: true,
  },

  // Condition operators
  {
    name: 'StringEquals on jwt:sub (match)',
    who: alice,
    identity: when({ StringEquals: { 'jwt:sub': 'alice' } }),
    expect: true,
  },
  {
    name: 'StringEquals on jwt:sub (no match)',
    who: bob,
    identity: when({ StringEquals: { 'jwt:sub': 'alice' } }),
    expect: 'no-allow',
  },
  {
    name: 'StringEquals with several values is an OR',
    who: bob,
    identity: when({ StringEquals: { 'jwt:sub': ['alice', 'bob'] } }),
    expect: true,
  },
  {
    name: 'StringEquals takes * literally',
    who: bob,
    identity: when({ StringEquals: { 'jwt:sub': '*' } }),
    expect: 'no-allow',
  },
  {
    name: 'StringLike with * on a claim',
    who: alice,
    identity: when({ StringLike: { 'jwt:email': '*@example.com' } }),
    expect: true,
  },
  {
    name: 'StringLike that does not match',
    who: alice,
    identity: when({ StringLike: { 'jwt:email': '*@example.org' } }),
    expect: 'no-allow',
  },
  {
    name: 'StringNotEquals',
    who: alice,
    identity: when({ StringNotEquals: { 'jwt:sub': 'bob' } }),
    expect: true,
  },
  {
    name: 'StringNotLike refuses what it matches',
    who: alice,
    identity: when({ StringNotLike: { 'jwt:email': 'alice@*' } }),
    expect: 'no-allow',
  },
  {
    name: 'StringEqualsIgnoreCase',
    who: alice,
    identity: when({ StringEqualsIgnoreCase: { 'jwt:tier': 'GOLD' } }),
    expect: true,
  },
  {
    name: 'IpAddress inside an IPv4 block',
    who: alice,
    identity: when({ IpAddress: { 'serval:SourceIp': '10.0.0.0/8' } }),
    sourceIp: '10.1.2.3',
    expect: true,
  },
  {
    name: 'IpAddress outside the block',
    who: alice,
    identity: when({ IpAddress: { 'serval:SourceIp': ['10.0.0.0/8', '172.16.0.0/12'] } }),
    sourceIp: '192.168.1.1',
    expect: 'no-allow',
  },
  {
    name: 'IpAddress with an IPv6 block',
    who: alice,
    identity: when({ IpAddress: { 'serval:SourceIp': '2001:db8::/32' } }),
    sourceIp: '2001:db8:85a3::8a2e:370:7334',
    expect: true,
  },
  {
    name: 'IpAddress treats an IPv4-mapped IPv6 address as IPv4',
    who: alice,
    identity: when({ IpAddress: { 'serval:SourceIp': '127.0.0.1/32' } }),
    sourceIp: '::ffff:127.0.0.1',
    expect: true,
  },
  {
    name: 'IpAddress with a non-octet prefix (/20)',
    who: alice,
    identity: when({ IpAddress: { 'serval:SourceIp': '192.168.16.0/20' } }),
    sourceIp: '192.168.32.1',
    expect: 'no-allow',
  },
  {
    name: 'NotIpAddress',
    who: alice,
    identity: when({ NotIpAddress: { 'serval:SourceIp': '203.0.113.0/24' } }),
    sourceIp: '10.0.0.1',
    expect: true,
  },
  {
    name: 'Bool serval:SecureTransport true over plain HTTP',
    who: alice,
    identity: when({ Bool: { 'serval:SecureTransport': 'true' } }),
    secure: false,
    expect: 'no-allow',
  },
  {
    name: 'Bool serval:SecureTransport true over TLS',
    who: alice,
    identity: when({ Bool: { 'serval:SecureTransport': true } }),
    secure: true,
    expect: true,
  },
  {
    name: 'a plain operator on jwt:groups matches any group',
    who: alice,
    identity: when({ StringEquals: { 'jwt:groups': 'admins' } }),
    expect: true,
  },
  {
    name: 'ForAllValues: every group is listed',
    who: bob,
    identity: when({ 'ForAllValues:StringEquals': { 'jwt:groups': ['dev', 'ops', 'qa'] } }),
    expect: true,
  },
  {
    name: 'ForAllValues: a group that is not listed',
    who: alice,
    identity: when({ 'ForAllValues:StringEquals': { 'jwt:groups': ['dev', 'ops'] } }),
    expect: 'no-allow',
  },
  {
    name: 'ForAnyValue:StringLike on groups',
    who: bob,
    identity: when({ 'ForAnyValue:StringLike': { 'jwt:groups': 'o*' } }),
    expect: true,
  },
  {
    name: 'ForAllValues on a missing key holds (as in IAM)',
    who: bob,
    identity: when({ 'ForAllValues:StringEquals': { 'jwt:roles': 'x' } }),
    expect: true,
  },
  {
    name: 'a missing key fails a positive operator',
    who: bob,
    identity: when({ StringEquals: { 'jwt:email': 'bob@example.com' } }),
    expect: 'no-allow',
  },
  {
    name: '...IfExists holds when the key is missing',
    who: bob,
    identity: when({ StringEqualsIfExists: { 'jwt:email': 'bob@example.com' } }),
    expect: true,
  },
  {
    name: 'Null true: the claim must be absent',
    who: alice,
    identity: when({ Null: { 'jwt:email': 'true' } }),
    expect: 'no-allow',
  },
  {
    name: 'keys within an operator and operators within a block are ANDed',
    who: alice,
    identity: when({
      StringEquals: { 'jwt:sub': 'alice', 'jwt:tier': 'gold' },
      IpAddress: { 'serval:SourceIp': '10.0.0.0/8' },
    }),
    sourceIp: '192.0.2.1',
    expect: 'no-allow',
  },
  {
    name: 'key prefixes are case-insensitive, claim names are not',
    who: alice,
    identity: when({ StringEquals: { 'JWT:sub': 'alice', 'SERVAL:PRINCIPALNAMESPACE': 'media' } }),
    expect: true,
  },
  {
    name: 'a policy variable in Resource: own namespace',
    who: alice,
    identity: everyone(allow({ Resource: OWN_NAMESPACE })),
    expect: true,
  },
  {
    name: 'a policy variable in Resource: another namespace',
    who: carol,
    identity: everyone(allow({ Resource: OWN_NAMESPACE })),
    expect: 'no-allow',
  },

  // Same namespace: identity OR resource; across namespaces: both
  {
    name: 'same namespace, resource allow alone',
    who: bob,
    policy: [allow({ Principal: { Serval: 'media' } })],
    expect: true,
  },
  {
    name: 'cross-namespace, identity allow alone',
    who: carol,
    identity: everyone(allow()),
    expect: 'needs-resource-allow',
  },
  {
    name: 'cross-namespace, resource allow alone',
    who: carol,
    policy: [allow({ Principal: { Serval: 'analytics' } })],
    expect: 'needs-identity-allow',
  },
  {
    name: 'cross-namespace, both allow',
    who: carol,
    identity: everyone(allow()),
    policy: [allow({ Principal: { Serval: 'analytics' } })],
    expect: true,
  },
  {
    name: 'cross-namespace, the resource policy names the caller',
    who: carol,
    identity: everyone(allow()),
    policy: [allow({ Principal: { Serval: ['serval:corp:carol'] } })],
    expect: true,
  },
  {
    name: 'cross-namespace, the resource policy names only its own namespace',
    who: carol,
    identity: everyone(allow()),
    policy: [allow({ Principal: { Serval: 'media' } })],
    expect: 'needs-resource-allow',
  },
  {
    name: 'cross-namespace, Principal * still needs an identity allow',
    who: carol,
    policy: [allow({ Principal: '*' })],
    expect: 'needs-identity-allow',
  },

  // Function URLs: NONE (anonymous) and JWT
  {
    name: 'NONE URL, anonymous, policy grants * with FunctionUrlAuthType NONE',
    who: undefined,
    action: URL,
    urlAuthType: 'NONE',
    policy: [
      allow({
        Principal: '*',
        Action: URL,
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } },
      }),
    ],
    expect: true,
  },
  {
    name: 'NONE URL, anonymous, no resource policy',
    who: undefined,
    action: URL,
    urlAuthType: 'NONE',
    identity: everyone(allow({ Action: URL })),
    expect: 'no-allow',
  },
  {
    name: 'NONE URL, anonymous, the policy grants only a namespace',
    who: undefined,
    action: URL,
    urlAuthType: 'NONE',
    policy: [allow({ Principal: { Serval: 'media' }, Action: URL })],
    expect: 'no-allow',
  },
  {
    name: 'JWT URL: a grant conditioned on NONE does not admit JWT callers',
    who: alice,
    action: URL,
    urlAuthType: 'JWT',
    policy: [
      allow({
        Principal: '*',
        Action: URL,
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } },
      }),
    ],
    expect: 'no-allow',
  },
  {
    name: 'JWT URL, same namespace, identity allow',
    who: alice,
    action: URL,
    urlAuthType: 'JWT',
    identity: everyone(allow({ Action: URL })),
    expect: true,
  },
  {
    name: 'JWT URL, cross-namespace, resource grant for JWT callers alone',
    who: carol,
    action: URL,
    urlAuthType: 'JWT',
    policy: [
      allow({
        Principal: '*',
        Action: URL,
        Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'JWT' } },
      }),
    ],
    expect: 'needs-identity-allow',
  },

  // Identity policy bindings
  {
    name: 'bound by issuer-qualified group: member',
    who: alice,
    identity: [{ groups: ['corp:admins'], statements: [allow()] }],
    expect: true,
  },
  {
    name: 'bound by group: not a member',
    who: bob,
    identity: [{ groups: ['corp:admins'], statements: [allow()] }],
    expect: 'no-allow',
  },
  {
    name: "a group of another issuer's callers does not bind",
    who: alice,
    identity: [{ groups: ['partner:admins'], statements: [allow()] }],
    expect: 'no-allow',
  },
  {
    name: 'bound by principal pattern',
    who: alice,
    identity: [{ principals: ['serval:corp:a*'], statements: [allow()] }],
    expect: true,
  },
  {
    name: 'bound by namespace: callers of other namespaces are not bound',
    who: bob,
    identity: [{ namespaces: ['analytics'], statements: [allow()] }],
    expect: 'no-allow',
  },
];

describe('policy evaluation', () => {
  it('has at least 40 cases', () => expect(cases.length).toBeGreaterThanOrEqual(40));

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // Every statement in the table is one the schemas accept.
    for (const s of [...(c.policy ?? []), ...(c.identity ?? []).flatMap((p) => p.statements)]) {
      expect(PolicyStatementSchema.safeParse(s).success, JSON.stringify(s)).toBe(true);
    }
    const request: AuthorizationRequest = {
      action: c.action ?? INVOKE,
      resource: c.resource ?? FN,
      resourceNamespace: 'media',
      principal: c.who,
      sourceIp: c.sourceIp ?? '10.0.0.1',
      secureTransport: c.secure ?? false,
      functionUrlAuthType: c.urlAuthType,
    };
    const decision = evaluate(
      request,
      compileIdentityPolicies(c.identity ?? []),
      compileStatements(c.policy ?? [], ownResources(FN)),
    );
    if (c.expect === true) {
      expect(decision).toMatchObject({ allowed: true });
    } else {
      expect(decision).toMatchObject({ allowed: false, reason: c.expect });
      if (c.denyIn) expect(decision).toMatchObject({ in: c.denyIn });
    }
  });
});
