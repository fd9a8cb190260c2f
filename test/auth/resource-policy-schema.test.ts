// spec.policy, a function's resource-based policy: what the Function schema accepts and what it refuses.
import { describe, expect, it } from 'vitest';
import { FunctionSchema } from '../../apis/function.ts';

const withPolicy = (policy: unknown) => ({
  apiVersion: 'serval.dev/v1alpha1',
  kind: 'Function',
  metadata: { name: 'fn' },
  spec: { runtime: 'nodejs24.x', handler: 'index.handler', code: { path: '.' }, url: {}, policy },
});
const grant = { Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunctionUrl' };

describe('spec.policy', () => {
  it('accepts IAM grammar: principals, several actions and resources, conditions', () => {
    const parsed = FunctionSchema.parse(
      withPolicy({
        statements: [
          { ...grant, Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'NONE' } } },
          {
            Sid: 'partners',
            Effect: 'Allow',
            Principal: { Serval: ['analytics', 'serval:k8s:system:serviceaccount:media:thumb'] },
            Action: ['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl'],
            Resource: [
              'arn:serval:lambda:local:default:function:fn',
              'arn:serval:lambda:local:default:function:fn:*',
            ],
            Condition: {
              'ForAnyValue:StringLike': { 'jwt:groups': ['team-*'] },
              IpAddress: { 'serval:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] },
              Bool: { 'serval:SecureTransport': true },
            },
          },
        ],
      }),
    );
    expect(parsed.spec.policy?.statements).toHaveLength(2);
  });

  it.each([
    ['statements', { statements: [] }],
    ['statements.0.Principal', { statements: [{ Effect: 'Allow', Action: 'lambda:InvokeFunction' }] }],
    ['statements.0.Effect', { statements: [{ ...grant, Effect: 'Permit' }] }],
    ['statements.0.Principal', { statements: [{ ...grant, Principal: { AWS: '123456789012' } }] }],
    [
      'statements.0.Principal.Serval',
      { statements: [{ ...grant, Principal: { Serval: 'Not A Namespace' } }] },
    ],
    ['statements.0.Action', { statements: [{ ...grant, Action: 's3:GetObject' }] }],
    [
      'statements.0.Resource',
      { statements: [{ ...grant, Resource: 'arn:aws:lambda:us-east-1:1:function:f' }] },
    ],
    ['statements.0.NotAction', { statements: [{ ...grant, NotAction: 'lambda:InvokeFunction' }] }],
    [
      'statements.0.Condition.StringEquals.aws:SourceIp',
      { statements: [{ ...grant, Condition: { StringEquals: { 'aws:SourceIp': 'x' } } }] },
    ],
    [
      'statements.0.Condition.Bool.serval:SecureTransport',
      { statements: [{ ...grant, Condition: { Bool: { 'serval:SecureTransport': 'yes' } } }] },
    ],
    [
      'statements.0.Condition.IpAddress.serval:SourceIp',
      { statements: [{ ...grant, Condition: { IpAddress: { 'serval:SourceIp': '10.0.0.300' } } }] },
    ],
  ])('refuses %s', (field, policy) => {
    const result = FunctionSchema.safeParse(withPolicy(policy));
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) =>
      ['spec', 'policy', ...i.path.slice(2), ...(i.code === 'unrecognized_keys' ? i.keys : [])].join('.'),
    );
    expect(
      paths.some((p) => p.startsWith(`spec.policy.${field}`)),
      JSON.stringify(result.error!.issues),
    ).toBe(true);
  });
});
