// The setting operations in cluster mode on a real API server, through the unmodified AWS SDK v3 (ADR-45):
// reserved concurrency, function URLs, permissions, the event-invoke config, recursion and tags are the
// Function resource's, both ways: what kubectl sets the API returns, what the API sets `kubectl get`
// shows, and the gateway applies it (a reservation of 0 throttles, the URL answers). Writes use the
// resourceVersion they read: concurrent writers all land, a stale RevisionId is refused. Each test works
// on Functions of its own, named afresh on every run, so a retry starts clean.

import {
  AddPermissionCommand,
  CreateFunctionCommand,
  CreateFunctionUrlConfigCommand,
  DeleteFunctionConcurrencyCommand,
  DeleteFunctionEventInvokeConfigCommand,
  DeleteFunctionUrlConfigCommand,
  GetFunctionCommand,
  GetFunctionConcurrencyCommand,
  GetFunctionConfigurationCommand,
  GetFunctionEventInvokeConfigCommand,
  GetFunctionRecursionConfigCommand,
  GetFunctionUrlConfigCommand,
  GetPolicyCommand,
  InvokeCommand,
  type LambdaClient,
  ListTagsCommand,
  PutFunctionConcurrencyCommand,
  PutFunctionEventInvokeConfigCommand,
  PutFunctionRecursionConfigCommand,
  RemovePermissionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateFunctionEventInvokeConfigCommand,
  UpdateFunctionUrlConfigCommand,
} from '@aws-sdk/client-lambda';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ApiError } from '../../apis/errors.ts';
import { FunctionRegistry } from '../../gateway/src/registry/function-registry.ts';
import { KubernetesCatalog } from '../../gateway/src/registry/kubernetes-catalog.ts';
import { KubernetesWrites } from '../../gateway/src/registry/kubernetes-writes.ts';
import { servalLambdaClient } from '../support/lambda-client.ts';
import { makeZip } from '../support/zip.ts';
import { functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'default';
const ARN = (name: string) => `arn:serval:lambda:local:${NS}:function:${name}`;
const HANDLER =
  'export const handler = async (e) => ({ statusCode: 200, body: "pong " + (e.rawPath ?? "") });';

let runs = 0;
/** A Function name not used before in this rig, so a retried test never meets its own leftovers. */
const fresh = (base: string) => `${base}-${++runs}`;

describe.skipIf(!rigAvailable)('the setting operations on a cluster', () => {
  let rig: ServalRig;
  let lambda: LambdaClient;

  const fn = (name: string) => rig.json(['get', 'function', name, '-n', NS]);
  /** The error an SDK call is refused with (its name is the x-amzn-ErrorType). */
  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => {
        throw new Error('expected the call to be refused');
      },
      (err: Error) => err,
    );
  /** kubectl apply, then wait until the gateway serves the Function (its informer has it). */
  const applied = async (name: string, spec: Record<string, unknown> = {}, annotations = {}) => {
    const manifest = parse(functionManifest(NS, name, HANDLER, spec));
    manifest.metadata.annotations = annotations;
    await rig.kubectl(['apply', '-f', '-'], stringify(manifest));
    await rig.until(`the gateway to serve ${name}`, () =>
      lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })),
    );
  };
  /** kubectl patch of the Function's spec, as a user changes one field. */
  const patchSpec = (name: string, spec: Record<string, unknown>) =>
    rig.kubectl(['patch', 'function', name, '-n', NS, '--type=merge', '-p', JSON.stringify({ spec })]);
  /** The function's first successful answer, while its pod starts. */
  const answer = (name: string) =>
    rig.until(
      `${name} to answer`,
      async () => {
        const out = await lambda.send(new InvokeCommand({ FunctionName: name, Payload: '{}' }));
        return out.FunctionError ? undefined : out;
      },
      120_000,
    );

  beforeAll(async () => {
    rig = await startServalRig([]);
    lambda = servalLambdaClient(rig.gateway.url);
  }, 180_000);
  afterAll(async () => {
    lambda?.destroy();
    await rig?.stop();
  });

  it('returns what kubectl applied: concurrency, URL, policy, event-invoke config, recursion, tags', async () => {
    const name = fresh('kube-set');
    await applied(
      name,
      {
        reservedConcurrency: 3,
        url: { authType: 'NONE', cors: { allowOrigins: ['https://a.example'] } },
        policy: {
          statements: [{ Sid: 'kubectl', Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunction' }],
        },
        async: { maximumRetryAttempts: 1, maximumEventAgeSeconds: 300 },
        recursiveLoop: 'Allow',
      },
      { 'serval.dev/lambda-api': JSON.stringify({ tags: { team: 'kube' } }) },
    );
    const concurrency = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name }));
    expect(concurrency.ReservedConcurrentExecutions).toBe(3);
    const url = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name }));
    expect(url).toMatchObject({ AuthType: 'NONE', Cors: { AllowOrigins: ['https://a.example'] } });
    const policy = await lambda.send(new GetPolicyCommand({ FunctionName: name }));
    expect(JSON.parse(policy.Policy!).Statement).toEqual([
      { Sid: 'kubectl', Effect: 'Allow', Principal: '*', Action: 'lambda:InvokeFunction' },
    ]);
    const config = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
    expect(policy.RevisionId).toBe(config.RevisionId);
    const invokeConfig = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }));
    expect(invokeConfig).toMatchObject({ MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 300 });
    const loops = await lambda.send(new GetFunctionRecursionConfigCommand({ FunctionName: name }));
    expect(loops.RecursiveLoop).toBe('Allow');
    expect((await lambda.send(new ListTagsCommand({ Resource: ARN(name) }))).Tags).toEqual({ team: 'kube' });

    // A tag is no spec change, and a permission changes only the policy.
    const { metadata: before, spec: specBefore } = await fn(name);
    const generation = before.generation;
    await lambda.send(new TagResourceCommand({ Resource: ARN(name), Tags: { stage: 'dev' } }));
    expect((await lambda.send(new ListTagsCommand({ Resource: ARN(name) }))).Tags).toEqual({
      team: 'kube',
      stage: 'dev',
    });
    expect((await fn(name)).metadata.generation).toBe(generation);
    await lambda.send(
      new AddPermissionCommand({
        FunctionName: name,
        StatementId: 'api',
        Action: 'lambda:GetFunction',
        Principal: '*',
      }),
    );
    const after = await fn(name);
    expect(after.metadata.generation).toBe(generation + 1);
    const { policy: written, ...rest } = after.spec;
    const { policy: _, ...restBefore } = specBefore;
    expect(rest).toEqual(restBefore);
    expect(written.statements.map((s: { Sid: string }) => s.Sid)).toEqual(['kubectl', 'api']);

    await patchSpec(name, { reservedConcurrency: 5 });
    await rig.until('the patched reservation', async () => {
      const out = await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name }));
      return out.ReservedConcurrentExecutions === 5 || undefined;
    });
  }, 120_000);

  it('writes reserved concurrency onto the Function, which throttles at 0, refusing bad values', async () => {
    const name = fresh('conc');
    await applied(name);
    const put = await lambda.send(
      new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: 0 }),
    );
    expect(put.ReservedConcurrentExecutions).toBe(0);
    expect((await fn(name)).spec.reservedConcurrency).toBe(0);
    const throttled = await refusal(lambda.send(new InvokeCommand({ FunctionName: name, Payload: '{}' })));
    expect(throttled.name).toBe('TooManyRequestsException');

    for (const [value, message] of [
      [-1, /^ReservedConcurrentExecutions: /],
      [950, /below its minimum value of \[100\]/],
    ] as const) {
      const bad = await refusal(
        lambda.send(
          new PutFunctionConcurrencyCommand({ FunctionName: name, ReservedConcurrentExecutions: value }),
        ),
      );
      expect(bad.name).toBe('InvalidParameterValueException');
      expect(bad.message).toMatch(message);
    }
    expect((await fn(name)).spec.reservedConcurrency).toBe(0);

    await lambda.send(new DeleteFunctionConcurrencyCommand({ FunctionName: name }));
    expect((await fn(name)).spec.reservedConcurrency).toBeUndefined();
    expect(await lambda.send(new GetFunctionConcurrencyCommand({ FunctionName: name }))).not.toHaveProperty(
      'ReservedConcurrentExecutions',
    );
    const out = await answer(name);
    expect(JSON.parse(Buffer.from(out.Payload!).toString())).toMatchObject({ statusCode: 200 });
  }, 180_000);

  it('writes a function URL onto spec.url, which the gateway then routes', async () => {
    const name = fresh('url');
    await applied(name);
    const created = await lambda.send(
      new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' }),
    );
    expect(created).toMatchObject({ AuthType: 'NONE', FunctionArn: ARN(name), InvokeMode: 'BUFFERED' });
    expect((await fn(name)).spec.url).toMatchObject({ authType: 'NONE' });
    const called = await rig.until(
      'the URL to answer',
      async () => {
        const res = await fetch(`${created.FunctionUrl}hi`);
        return res.status === 200 ? res.text() : undefined;
      },
      120_000,
    );
    expect(called).toBe('pong /hi');

    const again = await refusal(
      lambda.send(new CreateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'NONE' })),
    );
    expect(again.name).toBe('ResourceConflictException');
    const updated = await lambda.send(
      new UpdateFunctionUrlConfigCommand({
        FunctionName: name,
        Cors: { AllowOrigins: ['https://b.example'] },
      }),
    );
    expect(updated).toMatchObject({ AuthType: 'NONE', Cors: { AllowOrigins: ['https://b.example'] } });
    expect((await fn(name)).spec.url.cors).toEqual({ allowOrigins: ['https://b.example'] });
    const got = await lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name }));
    expect(got.CreationTime).toBe(created.CreationTime);

    const badAuth = await refusal(
      lambda.send(new UpdateFunctionUrlConfigCommand({ FunctionName: name, AuthType: 'BOGUS' as 'NONE' })),
    );
    expect(badAuth.name).toBe('InvalidParameterValueException');
    // A URL belongs to $LATEST or an alias, never to a version number.
    const version = await refusal(
      lambda.send(
        new UpdateFunctionUrlConfigCommand({ FunctionName: name, Qualifier: '1', AuthType: 'NONE' }),
      ),
    );
    expect(version.name).toBe('InvalidParameterValueException');
    expect((await fn(name)).spec.url).toEqual({
      authType: 'NONE',
      invokeMode: 'BUFFERED',
      cors: { allowOrigins: ['https://b.example'] },
    });

    await lambda.send(new DeleteFunctionUrlConfigCommand({ FunctionName: name }));
    expect((await fn(name)).spec.url).toBeUndefined();
    expect((await fetch(`${created.FunctionUrl}hi`)).status).toBe(404);
    const gone = await refusal(lambda.send(new GetFunctionUrlConfigCommand({ FunctionName: name })));
    expect(gone.name).toBe('ResourceNotFoundException');
  }, 180_000);

  it('writes permissions onto spec.policy: concurrent adds all land, a stale RevisionId is refused', async () => {
    const name = fresh('perm');
    await applied(name);
    const add = (sid: string, extra: Record<string, unknown> = {}) =>
      lambda.send(
        new AddPermissionCommand({
          FunctionName: name,
          StatementId: sid,
          Action: 'lambda:InvokeFunction',
          Principal: 'team-a',
          ...extra,
        }),
      );
    const first = await add('first');
    expect(JSON.parse(first.Statement!)).toMatchObject({ Sid: 'first', Principal: { Serval: 'team-a' } });
    expect((await fn(name)).spec.policy.statements.map((s: { Sid: string }) => s.Sid)).toEqual(['first']);
    expect((await refusal(add('first'))).name).toBe('ResourceConflictException');
    const badPrincipal = await refusal(add('bad', { Principal: 's3.amazonaws.com' }));
    expect(badPrincipal.name).toBe('InvalidParameterValueException');
    expect(badPrincipal.message).toMatch(/^Principal: /);

    // Six writers at once: each read-change-write that loses the race reads again (409), none is lost.
    const sids = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
    await Promise.all(sids.map((sid) => add(sid)));
    const statements = (await fn(name)).spec.policy.statements.map((s: { Sid: string }) => s.Sid);
    expect(statements.sort()).toEqual(['first', ...sids].sort());

    const before = (await lambda.send(new GetPolicyCommand({ FunctionName: name }))).RevisionId!;
    await patchSpec(name, { timeoutSeconds: 9 });
    const stale = await refusal(add('late', { RevisionId: before }));
    expect(stale.name).toBe('PreconditionFailedException');
    const staleRemove = await refusal(
      lambda.send(new RemovePermissionCommand({ FunctionName: name, StatementId: 'p0', RevisionId: before })),
    );
    expect(staleRemove.name).toBe('PreconditionFailedException');
    const now = await rig.until('the new RevisionId', async () => {
      const out = await lambda.send(new GetPolicyCommand({ FunctionName: name }));
      return out.RevisionId !== before ? out.RevisionId : undefined;
    });
    await add('late', { RevisionId: now });
    await lambda.send(new RemovePermissionCommand({ FunctionName: name, StatementId: 'p0' }));
    const missing = await refusal(
      lambda.send(new RemovePermissionCommand({ FunctionName: name, StatementId: 'p0' })),
    );
    expect(missing.name).toBe('ResourceNotFoundException');
    const left = (await fn(name)).spec.policy.statements.map((s: { Sid: string }) => s.Sid);
    expect(left.sort()).toEqual(['first', 'late', 'p1', 'p2', 'p3', 'p4', 'p5']);
    expect((await fn(name)).spec.timeoutSeconds).toBe(9);
  }, 120_000);

  it('retries a write that met a 409 on a fresh read, and gives up as ResourceConflictException', async () => {
    const name = fresh('conflict');
    await applied(name);
    const admin = new KubeConfig();
    admin.loadFromString(rig.cluster.kubeconfig);
    const writes = new KubernetesWrites(
      admin,
      new KubernetesCatalog(admin, new FunctionRegistry(), () => {}),
    );
    const read = (await writes.getFunction(NS, name))!;
    await rig.kubectl(['annotate', 'function', name, '-n', NS, 'touched=yes']);
    let calls = 0;
    // The first attempt writes over what it read before the annotation: the API server refuses it (409).
    await writes.updateFunction(NS, name, (current) => {
      const base = ++calls === 1 ? read : current!;
      return { ...base, spec: { ...base.spec, timeoutSeconds: 41 } };
    });
    expect(calls).toBe(2);
    const o = await fn(name);
    expect(o.spec.timeoutSeconds).toBe(41);
    expect(o.metadata.annotations.touched).toBe('yes');

    const err = await writes
      .updateFunction(NS, name, () => ({ ...read, spec: { ...read.spec, timeoutSeconds: 42 } }), 2)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).type).toBe('ResourceConflictException');
    expect((await fn(name)).spec.timeoutSeconds).toBe(41);
  });

  it('writes the event-invoke config onto spec.async', async () => {
    const name = fresh('async');
    await applied(name);
    const target = ARN(fresh('dlq'));
    const put = await lambda.send(
      new PutFunctionEventInvokeConfigCommand({
        FunctionName: name,
        MaximumRetryAttempts: 0,
        DestinationConfig: { OnFailure: { Destination: target } },
      }),
    );
    expect(put).toMatchObject({
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: target } },
    });
    expect((await fn(name)).spec.async).toMatchObject({
      maximumRetryAttempts: 0,
      destinations: { onFailure: { function: target } },
    });
    await lambda.send(
      new UpdateFunctionEventInvokeConfigCommand({ FunctionName: name, MaximumEventAgeInSeconds: 120 }),
    );
    expect((await fn(name)).spec.async).toMatchObject({
      maximumRetryAttempts: 0,
      maximumEventAgeSeconds: 120,
      destinations: { onFailure: { function: target } },
    });
    const got = await lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name }));
    expect(got).toMatchObject({
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 120,
      FunctionArn: `${ARN(name)}:$LATEST`,
    });
    expect(got.LastModified!.getTime()).toBeGreaterThan(Date.now() - 600_000);

    const tooMany = await refusal(
      lambda.send(
        new UpdateFunctionEventInvokeConfigCommand({ FunctionName: name, MaximumRetryAttempts: 5 }),
      ),
    );
    expect(tooMany.name).toBe('InvalidParameterValueException');
    expect(tooMany.message).toMatch(/^MaximumRetryAttempts: /);
    const http = await refusal(
      lambda.send(
        new PutFunctionEventInvokeConfigCommand({
          FunctionName: name,
          DestinationConfig: { OnSuccess: { Destination: 'https://hooks.example/x' } },
        }),
      ),
    );
    expect(http.name).toBe('InvalidParameterValueException');
    expect((await fn(name)).spec.async.maximumRetryAttempts).toBe(0);

    await lambda.send(new DeleteFunctionEventInvokeConfigCommand({ FunctionName: name }));
    expect((await fn(name)).spec.async).toBeUndefined();
    const gone = await refusal(lambda.send(new GetFunctionEventInvokeConfigCommand({ FunctionName: name })));
    expect(gone.name).toBe('ResourceNotFoundException');
  });

  it('keeps tags in the lambda-api annotation and writes the recursion setting onto the spec', async () => {
    const name = fresh('tagged');
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs24.x',
        Role: 'arn:aws:iam::123456789012:role/lambda',
        Handler: 'index.handler',
        Code: { ZipFile: makeZip({ 'index.mjs': HANDLER }) },
        Tags: { team: 'orders' },
      }),
    );
    await lambda.send(
      new TagResourceCommand({ Resource: ARN(name), Tags: { stage: 'prod', 'cost center': 'A/B' } }),
    );
    await lambda.send(new UntagResourceCommand({ Resource: ARN(name), TagKeys: ['team'] }));
    const tags = { stage: 'prod', 'cost center': 'A/B' };
    expect((await lambda.send(new ListTagsCommand({ Resource: ARN(name) }))).Tags).toEqual(tags);
    const annotation = JSON.parse((await fn(name)).metadata.annotations['serval.dev/lambda-api']);
    expect(annotation.tags).toEqual(tags);
    // The rest of what CreateFunction recorded is kept.
    const got = await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    expect(got.Configuration).toMatchObject({ Role: created.Role, CodeSha256: created.CodeSha256 });
    expect(got.Tags).toEqual(tags);
    const badTags = await refusal(
      lambda.send(new TagResourceCommand({ Resource: ARN(name), Tags: { ['k'.repeat(129)]: 'v' } })),
    );
    expect(badTags.name).toBe('InvalidParameterValueException');

    const loops = await lambda.send(
      new PutFunctionRecursionConfigCommand({ FunctionName: name, RecursiveLoop: 'Allow' }),
    );
    expect(loops.RecursiveLoop).toBe('Allow');
    expect((await fn(name)).spec.recursiveLoop).toBe('Allow');
    const bad = await refusal(
      lambda.send(
        new PutFunctionRecursionConfigCommand({ FunctionName: name, RecursiveLoop: 'Sometimes' as 'Allow' }),
      ),
    );
    expect(bad.name).toBe('InvalidParameterValueException');
  });
});
