// Provisioned concurrency on a real gateway with real Node runtimes (ADR-41): environments initialised
// before the first call and told so (AWS_LAMBDA_INITIALIZATION_TYPE), calls beyond them spilling over to
// on-demand ones, Lambda's status and errors through the unmodified AWS SDK v3 client, the metrics, and
// release on delete. Busy environments are held on a file in a shared directory, never on a timer.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  DeleteProvisionedConcurrencyConfigCommand,
  GetProvisionedConcurrencyConfigCommand,
  InvokeCommand,
  type LambdaClient,
  ListProvisionedConcurrencyConfigsCommand,
  PublishVersionCommand,
  PutProvisionedConcurrencyConfigCommand,
} from '@aws-sdk/client-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servalLambdaClient } from '../support/lambda-client.ts';
import { inlineNode, startServal, type TestServal, testDataRoot } from '../support/serval.ts';

// The module-level timestamp is taken at init; `hold` waits for a file the test writes.
const HANDLER = `
import { existsSync } from 'node:fs';
const initAt = Date.now();
const environment = crypto.randomUUID();
export const handler = async (event) => {
  const calledAt = Date.now();
  if (event.crash) process.exit(3);
  if (event.hold) {
    const until = Date.now() + 50_000;
    while (!existsSync(event.hold) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
  return { type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, initAt, calledAt, environment };
};
`;
const BROKEN = `throw new Error('init blew up on purpose');\nexport const handler = async () => ({});\n`;
/** An init its own event loop cannot end: the local provider's deadline watch does (ADR-57). */
const SPINNING = 'for (;;) {}\nexport const handler = async () => ({});\n';

interface Answer {
  type: string;
  initAt: number;
  calledAt: number;
  environment: string;
}

let serval: TestServal;
let lambda: LambdaClient;
let shared: string;
let holds = 0;

async function invoke(name: string, payload: unknown = {}): Promise<Answer> {
  const out = await lambda.send(
    new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify(payload)) }),
  );
  const body = Buffer.from(out.Payload ?? []).toString();
  if (out.FunctionError) throw new Error(`${name} failed: ${body}`);
  return JSON.parse(body) as Answer;
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 90_000;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
}

const config = (FunctionName: string, Qualifier: string) =>
  lambda.send(new GetProvisionedConcurrencyConfigCommand({ FunctionName, Qualifier }));
const ready = (name: string, qualifier: string) =>
  eventually(
    () => config(name, qualifier),
    (c) => c.Status === 'READY',
    `${name}:${qualifier} READY`,
  );

/** A metric's value for the given labels (0 when the series is absent). */
async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(serval.metricsUrl!)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
      sum += Number(line.split(' ').at(-1));
  }
  return sum;
}

async function publishWithAlias(name: string, alias?: string): Promise<string> {
  const { Version } = await lambda.send(new PublishVersionCommand({ FunctionName: name }));
  if (alias)
    await lambda.send(new CreateAliasCommand({ FunctionName: name, Name: alias, FunctionVersion: Version }));
  return Version!;
}

function holdFile(): { path: string; release: () => void } {
  const path = join(shared, `release-${holds++}`);
  return { path, release: () => writeFileSync(path, '') };
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  shared = mkdtempSync(join(testDataRoot(), 'provisioned-shared-'));
  serval = await startServal({
    functions: [
      // Held calls must outlast a slow, loaded machine: the function timeout is not what ends them.
      inlineNode('warm', HANDLER, { timeoutSeconds: 60 }),
      inlineNode('capped', HANDLER, { spec: { reservedConcurrency: 2 } }),
      inlineNode('short', HANDLER),
      inlineNode('broken', BROKEN),
      inlineNode('spinning', SPINNING),
      inlineNode('tenanted', HANDLER, { spec: { tenancy: { mode: 'PER_TENANT' } } }),
    ],
    config: { localSharedDirs: [shared], idleTimeoutSeconds: 1 },
  });
  lambda = servalLambdaClient(serval.url);
}, 120_000);
afterAll(async () => {
  lambda?.destroy();
  await serval?.stop();
  rmSync(shared, { recursive: true, force: true });
});

describe('provisioned concurrency', () => {
  it('initialises environments before the first call, uses them first, spills over, and keeps them warm', async () => {
    await publishWithAlias('warm', 'live');
    const put = await lambda.send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: 'warm',
        Qualifier: 'live',
        ProvisionedConcurrentExecutions: 2,
      }),
    );
    expect(put.$metadata.httpStatusCode).toBe(202);
    expect(put).toMatchObject({ RequestedProvisionedConcurrentExecutions: 2 });
    expect(['IN_PROGRESS', 'READY']).toContain(put.Status);
    const got = await ready('warm', 'live');
    expect(got).toMatchObject({
      RequestedProvisionedConcurrentExecutions: 2,
      AllocatedProvisionedConcurrentExecutions: 2,
      AvailableProvisionedConcurrentExecutions: 2,
      Status: 'READY',
    });
    expect(got.LastModified).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$/);

    const before = Date.now();
    const first = await invoke('warm:live');
    expect(first.type).toBe('provisioned-concurrency');
    expect(first.initAt).toBeLessThan(before);
    // Unqualified calls ($LATEST) run on demand.
    expect((await invoke('warm')).type).toBe('on-demand');

    // Two calls hold both provisioned environments; the third spills over to an on-demand one.
    const hold = holdFile();
    const held = Promise.all([
      invoke('warm:live', { hold: hold.path }),
      invoke('warm:live', { hold: hold.path }),
    ]);
    held.catch(() => undefined); // awaited below; a failure must not surface as unhandled meanwhile
    const q = { function: 'warm', qualifier: 'live' };
    await eventually(
      () => metric('serval_provisioned_concurrent_executions', q),
      (n) => n === 2,
      'both busy',
    );
    expect(await metric('serval_provisioned_concurrency_utilization', q)).toBe(1);
    const spilled = await invoke('warm:live');
    expect(spilled.type).toBe('on-demand');
    expect(
      await metric('serval_provisioned_concurrency_spillover_invocations_total', q),
    ).toBeGreaterThanOrEqual(1);
    hold.release();
    const answers = await held;
    expect(answers.map((a) => a.type)).toEqual(['provisioned-concurrency', 'provisioned-concurrency']);
    expect(new Set(answers.map((a) => a.environment)).size).toBe(2);

    // The idle timeout (1 s here) reaps the on-demand environments, never the provisioned ones.
    await eventually(
      () => metric('serval_environments', { function: 'warm', version: '$LATEST' }),
      (n) => n === 0,
      '$LATEST reaped',
    );
    const after = await invoke('warm:live');
    expect(after.type).toBe('provisioned-concurrency');
    expect(answers.map((a) => a.environment)).toContain(after.environment);
    expect((await config('warm', 'live')).AllocatedProvisionedConcurrentExecutions).toBe(2);
  }, 240_000);

  it('initialises a new runtime ahead when a provisioned environment’s runtime died', async () => {
    // Both provisioned environments idle, so the crashing call runs on one of them.
    const q = { function: 'warm', qualifier: 'live' };
    await ready('warm', 'live');
    await eventually(
      () => metric('serval_provisioned_concurrent_executions', q),
      (n) => n === 0,
      'both idle',
    );
    const spilled = await metric('serval_provisioned_concurrency_spillover_invocations_total', q);
    const crashedAt = Date.now();
    await invoke('warm:live', { crash: true }).catch(() => undefined);
    expect(await metric('serval_provisioned_concurrency_spillover_invocations_total', q)).toBe(spilled);
    const fresh = await eventually(
      () => invoke('warm:live').catch(() => undefined),
      (a) => a !== undefined && a.initAt > crashedAt,
      'a runtime initialised after the crash',
    );
    expect(fresh?.type).toBe('provisioned-concurrency');
    expect(fresh!.initAt).toBeLessThan(fresh!.calledAt);
    await ready('warm', 'live');
  }, 240_000);

  it('answers in Lambda’s vocabulary: $LATEST, one configuration per version, not found, List', async () => {
    const latest = await errorOf(
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({
          FunctionName: 'warm',
          Qualifier: '$LATEST',
          ProvisionedConcurrentExecutions: 1,
        }),
      ),
    );
    expect(latest).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(latest.message).toMatch(/unpublished function versions/);
    // Version 1 is provisioned through the alias already.
    const clash = await errorOf(
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({
          FunctionName: 'warm',
          Qualifier: '1',
          ProvisionedConcurrentExecutions: 1,
        }),
      ),
    );
    expect(clash).toMatchObject({ name: 'ResourceConflictException', status: 409 });
    expect(await errorOf(config('warm', '1'))).toMatchObject({
      name: 'ProvisionedConcurrencyConfigNotFoundException',
      status: 404,
    });
    expect(await errorOf(config('warm', 'nope'))).toMatchObject({
      name: 'ResourceNotFoundException',
      status: 404,
    });
    // As Lambda: a function in tenant isolation mode has no provisioned concurrency.
    const tenanted = await errorOf(
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({
          FunctionName: 'tenanted',
          Qualifier: '1',
          ProvisionedConcurrentExecutions: 1,
        }),
      ),
    );
    expect(tenanted).toMatchObject({ name: 'InvalidParameterValueException', status: 400 });
    expect(tenanted.message).toMatch(/tenancy mode PER_TENANT/);
    const list = await lambda.send(new ListProvisionedConcurrencyConfigsCommand({ FunctionName: 'warm' }));
    expect(list.ProvisionedConcurrencyConfigs).toEqual([
      expect.objectContaining({
        FunctionArn: 'arn:serval:lambda:local:default:function:warm:live',
        RequestedProvisionedConcurrentExecutions: 2,
        Status: 'READY',
      }),
    ]);
  }, 180_000);

  it('counts against reserved concurrency: never above it, and filling it throttles on-demand calls', async () => {
    await publishWithAlias('capped');
    const over = await errorOf(
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({
          FunctionName: 'capped',
          Qualifier: '1',
          ProvisionedConcurrentExecutions: 3,
        }),
      ),
    );
    expect(over).toMatchObject({ name: 'InvalidParameterValueException' });
    expect(over.message).toMatch(/reservedConcurrentExecution/);
    await lambda.send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: 'capped',
        Qualifier: '1',
        ProvisionedConcurrentExecutions: 2,
      }),
    );
    await ready('capped', '1');
    expect((await invoke('capped:1')).type).toBe('provisioned-concurrency');
    const throttled = await errorOf(invoke('capped'));
    expect(throttled).toMatchObject({ name: 'TooManyRequestsException', status: 429 });
  }, 180_000);

  it('reports FAILED with the reason when the function’s init fails', async () => {
    await publishWithAlias('broken');
    await lambda.send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: 'broken',
        Qualifier: '1',
        ProvisionedConcurrentExecutions: 1,
      }),
    );
    const failed = await eventually(
      () => config('broken', '1'),
      (c) => c.Status === 'FAILED',
      'FAILED',
    );
    expect(failed.AllocatedProvisionedConcurrentExecutions).toBe(0);
    expect(failed.StatusReason).toMatch(/init blew up on purpose/);
  }, 180_000);

  it('reports FAILED with Sandbox.Timedout when the init spins past the init phase', async () => {
    await publishWithAlias('spinning');
    const began = Date.now();
    await lambda.send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: 'spinning',
        Qualifier: '1',
        ProvisionedConcurrentExecutions: 1,
      }),
    );
    const failed = await eventually(
      () => config('spinning', '1'),
      (c) => c.Status === 'FAILED',
      'FAILED',
    );
    expect(failed.StatusReason).toMatch(/Sandbox\.Timedout: the init phase did not complete within 10 s/);
    expect(Date.now() - began).toBeGreaterThanOrEqual(10_000);
  }, 180_000);

  it('resizes, and ends the provisioned environments when the configuration is deleted', async () => {
    await publishWithAlias('short');
    await lambda.send(
      new PutProvisionedConcurrencyConfigCommand({
        FunctionName: 'short',
        Qualifier: '1',
        ProvisionedConcurrentExecutions: 2,
      }),
    );
    await ready('short', '1');
    expect(await metric('serval_environments', { function: 'short', version: '1' })).toBe(2);
    // A new size resizes the pool: down ends idle environments, up starts more.
    const resize = (n: number) =>
      lambda.send(
        new PutProvisionedConcurrencyConfigCommand({
          FunctionName: 'short',
          Qualifier: '1',
          ProvisionedConcurrentExecutions: n,
        }),
      );
    await resize(1);
    await eventually(
      () => metric('serval_environments', { function: 'short', version: '1' }),
      (n) => n === 1,
      'one provisioned environment',
    );
    await resize(3);
    expect((await ready('short', '1')).AllocatedProvisionedConcurrentExecutions).toBe(3);
    expect(await metric('serval_environments', { function: 'short', version: '1' })).toBe(3);
    const deleted = await lambda.send(
      new DeleteProvisionedConcurrencyConfigCommand({ FunctionName: 'short', Qualifier: '1' }),
    );
    expect(deleted.$metadata.httpStatusCode).toBe(204);
    await eventually(
      () => metric('serval_environments', { function: 'short', version: '1' }),
      (n) => n === 0,
      'the provisioned environments gone',
    );
    expect(await errorOf(config('short', '1'))).toMatchObject({
      name: 'ProvisionedConcurrencyConfigNotFoundException',
    });
    expect(existsSync(shared)).toBe(true);
    // Calls to the version now start on-demand environments.
    expect((await invoke('short:1')).type).toBe('on-demand');
  }, 180_000);
});
