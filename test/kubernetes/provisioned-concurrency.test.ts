// Provisioned concurrency on a cluster (ADR-51): an Alias's `spec.provisionedConcurrency`, applied with
// kubectl or put through the Lambda API, becomes pods initialised before any call (their runtime told
// `provisioned-concurrency`), the Alias's status tells the allocation, a call beyond them spills over to an
// on-demand pod, the pods follow the Alias to a new version, and deleting the configuration removes them.
// Busy environments are held on a file, never on a timer (the test node runs pods as local processes, so
// they see the test's directory).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDataRoot } from '../support/serval.ts';
import { aliasManifest, functionManifest, rigAvailable, type ServalRig, startServalRig } from './rig.ts';

const NS = 'default';
const HANDLER = `
import { existsSync, writeFileSync } from 'node:fs';
const initType = process.env.AWS_LAMBDA_INITIALIZATION_TYPE;
const initAt = Date.now();
const environment = crypto.randomUUID();
export const handler = async (event) => {
  const calledAt = Date.now();
  if (event.hold) {
    writeFileSync(event.hold + '.started', '');
    const until = Date.now() + 50_000;
    while (!existsSync(event.hold) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
  return { initType, type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, initAt, calledAt, environment };
};
`;
const PROVISIONED_PODS = [
  'get',
  'pods',
  '-n',
  NS,
  '-l',
  'serval.dev/initialization-type=provisioned-concurrency',
];
const API = '/2019-09-30/functions/pc/provisioned-concurrency';

interface Answer {
  initType: string;
  type: string;
  initAt: number;
  calledAt: number;
  environment: string;
}

describe.skipIf(!rigAvailable)('provisioned concurrency on a cluster', () => {
  let rig: ServalRig;
  let shared: string;

  beforeAll(async () => {
    shared = mkdtempSync(join(testDataRoot(), 'k8s-provisioned-'));
    rig = await startServalRig([]);
  }, 180_000);
  afterAll(async () => {
    await rig?.stop();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  /** Invokes `pc:live` with the log tail: the answer, and whether its REPORT has an Init Duration. */
  const invoke = async (payload: unknown = {}) => {
    const res = await fetch(
      `${rig.gateway.url}/2015-03-31/functions/${encodeURIComponent(`${NS}:function:pc:live`)}/invocations`,
      { method: 'POST', body: JSON.stringify(payload), headers: { 'X-Amz-Log-Type': 'Tail' } },
    );
    const body = await res.text();
    if (res.status !== 200 || res.headers.get('x-amz-function-error'))
      throw new Error(`pc:live answered ${res.status}: ${body}`);
    const tail = Buffer.from(res.headers.get('x-amz-log-result') ?? '', 'base64').toString();
    expect(tail).toMatch(/REPORT RequestId/);
    return { answer: JSON.parse(body) as Answer, initDuration: /Init Duration/.test(tail) };
  };
  const api = async (method: string, query: string, body?: unknown) => {
    const res = await fetch(`${rig.gateway.url}${API}?${query}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get('x-amzn-errortype'),
      body: text ? (JSON.parse(text) as Record<string, any>) : {},
    };
  };
  const alias = () => rig.json(['get', 'alias', 'pc-live', '-n', NS]);
  const condition = async () =>
    ((await alias()).status?.conditions ?? []).find(
      (c: { type: string }) => c.type === 'ProvisionedConcurrency',
    ) as { status: string; reason: string; message: string } | undefined;
  const provisionedPods = async () =>
    ((await rig.json(PROVISIONED_PODS)).items as any[]).filter((p) => !p.metadata.deletionTimestamp);

  it('initialises an Alias’s provisioned pods before any call, reports them and spills over', async () => {
    await rig.kubectl(['apply', '-f', '-'], functionManifest(NS, 'pc', HANDLER, { reservedConcurrency: 3 }));
    await rig.until(
      'the code',
      async () => (await rig.json(['get', 'function', 'pc', '-n', NS])).status?.codeSha256,
    );
    await rig.kubectl(['annotate', 'function', 'pc', '-n', NS, 'serval.dev/publish=1', '--overwrite']);
    await rig.until(
      'version 1',
      async () => (await rig.json(['get', 'function', 'pc', '-n', NS])).status?.latestVersion === '1',
    );
    await rig.kubectl(
      ['apply', '-f', '-'],
      aliasManifest(NS, 'pc-live', {
        name: 'live',
        functionName: 'pc',
        functionVersion: '1',
        provisionedConcurrency: 2,
      }),
    );

    // Before any call: two pods, initialised, and the Alias says so.
    const ready = await rig.until(
      'the Alias allocated',
      async () => {
        const c = await condition();
        return c?.status === 'True' ? c : undefined;
      },
      120_000,
    );
    expect(ready).toMatchObject({ reason: 'Allocated', message: expect.stringMatching(/^2 of 2 /) });
    expect((await alias()).status.provisionedConcurrency).toMatchObject({
      requested: 2,
      allocated: 2,
      available: 2,
      status: 'READY',
    });
    const pods = await provisionedPods();
    expect(pods).toHaveLength(2);
    expect(pods.every((p) => p.metadata.labels['serval.dev/version'] === '1')).toBe(true);
    const got = await api('GET', 'Qualifier=live');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      RequestedProvisionedConcurrentExecutions: 2,
      AvailableProvisionedConcurrentExecutions: 2,
      AllocatedProvisionedConcurrentExecutions: 2,
      Status: 'READY',
      LastModified: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    // The first call: an environment that ran its init ahead, told so, and no Init Duration.
    const first = await invoke();
    expect(first.answer).toMatchObject({
      initType: 'provisioned-concurrency',
      type: 'provisioned-concurrency',
    });
    expect(first.answer.initAt).toBeLessThan(first.answer.calledAt);
    expect(first.initDuration).toBe(false);

    // Both provisioned environments held: the third call spills over to an on-demand pod.
    const releases = [0, 1].map((i) => join(shared, `release-${i}`));
    const held = releases.map((hold) => invoke({ hold }));
    await rig.until('both held', async () =>
      releases.every((path) => existsSync(`${path}.started`)) ? true : undefined,
    );
    const spilled = await invoke();
    expect(spilled.answer).toMatchObject({ initType: 'on-demand', type: 'on-demand' });
    expect(spilled.initDuration).toBe(true);
    for (const path of releases) writeFileSync(path, '');
    const answers = await Promise.all(held);
    expect(answers.map((a) => a.answer.type)).toEqual(['provisioned-concurrency', 'provisioned-concurrency']);
    expect(new Set(answers.map((a) => a.answer.environment)).size).toBe(2);
    expect(answers.some((a) => a.initDuration)).toBe(false);
  }, 300_000);

  it('puts, gets, lists and deletes through the Alias resource, with Lambda’s checks', async () => {
    // Puts at once on one Alias collide on its resourceVersion: each is retried on a fresh read and lands.
    const racing = await Promise.all(
      [1, 2, 3].map((n) => api('PUT', 'Qualifier=live', { ProvisionedConcurrentExecutions: n })),
    );
    expect(racing.map((r) => r.status)).toEqual([202, 202, 202]);
    const put = await api('PUT', 'Qualifier=live', { ProvisionedConcurrentExecutions: 3 });
    expect(put.status).toBe(202);
    expect(put.body).toMatchObject({ RequestedProvisionedConcurrentExecutions: 3 });
    const written = await alias();
    expect(written.spec.provisionedConcurrency).toBe(3);
    expect(JSON.parse(written.metadata.annotations['serval.dev/provisioned-concurrency'])).toMatchObject({
      requested: 3,
    });
    await rig.until(
      '3 allocated',
      async () => ((await api('GET', 'Qualifier=live')).body.Status === 'READY' ? true : undefined),
      120_000,
    );
    expect((await provisionedPods()).length).toBe(3);
    const list = await api('GET', 'List=ALL');
    expect(list.body.ProvisionedConcurrencyConfigs).toEqual([
      expect.objectContaining({
        FunctionArn: expect.stringMatching(/:function:pc:live$/),
        RequestedProvisionedConcurrentExecutions: 3,
        Status: 'READY',
      }),
    ]);

    // Lambda's refusals, as in local mode; a version has no resource of its own in a cluster.
    const over = await api('PUT', 'Qualifier=live', { ProvisionedConcurrentExecutions: 4 });
    expect(over.status).toBe(400);
    expect(over.type).toMatch(/^InvalidParameterValueException/);
    expect(over.body.message).toMatch(/reservedConcurrentExecution/);
    const latest = await api('PUT', 'Qualifier=$LATEST', { ProvisionedConcurrentExecutions: 1 });
    expect(latest.type).toMatch(/^InvalidParameterValueException/);
    const version = await api('PUT', 'Qualifier=1', { ProvisionedConcurrentExecutions: 1 });
    expect(version.status).toBe(409);
    expect(version.type).toMatch(/^ResourceConflictException/);
    expect(version.body.message).toMatch(/Alias resource/);
    expect((await api('GET', 'Qualifier=1')).type).toMatch(/^ProvisionedConcurrencyConfigNotFoundException/);
    expect((await alias()).spec.provisionedConcurrency).toBe(3);

    // kubectl can write what the API refuses: the status says why it is not served.
    await rig.kubectl([
      'patch',
      'alias',
      'pc-live',
      '-n',
      NS,
      '--type=merge',
      '-p',
      '{"spec":{"provisionedConcurrency":4}}',
    ]);
    const failed = await rig.until('the refusal on status', async () => {
      const c = await condition();
      return c?.reason === 'Failed' ? c : undefined;
    });
    expect(failed.message).toMatch(/reservedConcurrentExecution/);
    expect((await api('GET', 'Qualifier=live')).body).toMatchObject({
      Status: 'FAILED',
      AllocatedProvisionedConcurrentExecutions: 0,
    });
    await rig.until('the refused pods gone', async () =>
      (await provisionedPods()).length === 0 ? true : undefined,
    );

    const deleted = await api('DELETE', 'Qualifier=live');
    expect(deleted.status).toBe(204);
    const after = await alias();
    expect(after.spec.provisionedConcurrency).toBeUndefined();
    expect(after.metadata.annotations?.['serval.dev/provisioned-concurrency']).toBeUndefined();
    const gone = await api('GET', 'Qualifier=live');
    expect(gone.status).toBe(404);
    expect(gone.type).toMatch(/^ProvisionedConcurrencyConfigNotFoundException/);
    await rig.until('the condition gone', async () => ((await condition()) === undefined ? true : undefined));
    expect((await alias()).status.provisionedConcurrency).toBeUndefined();
  }, 300_000);

  it('follows the Alias to a newly published version', async () => {
    const before = (await rig.json(['get', 'function', 'pc', '-n', NS])).status.codeSha256;
    await rig.kubectl(
      ['apply', '-f', '-'],
      functionManifest(NS, 'pc', `${HANDLER}// two\n`, { reservedConcurrency: 3 }),
    );
    await rig.until('the new code', async () => {
      const sha = (await rig.json(['get', 'function', 'pc', '-n', NS])).status?.codeSha256;
      return sha && sha !== before ? sha : undefined;
    });
    await rig.kubectl(['annotate', 'function', 'pc', '-n', NS, 'serval.dev/publish=2', '--overwrite']);
    await rig.until(
      'version 2',
      async () => (await rig.json(['get', 'function', 'pc', '-n', NS])).status?.latestVersion === '2',
    );
    await rig.kubectl([
      'patch',
      'alias',
      'pc-live',
      '-n',
      NS,
      '--type=merge',
      '-p',
      '{"spec":{"functionVersion":"2","provisionedConcurrency":1}}',
    ]);
    await rig.until(
      'one provisioned pod of version 2, and the Alias allocated',
      async () => {
        const pods = await provisionedPods();
        const c = await condition();
        return pods.length === 1 &&
          pods[0].metadata.labels['serval.dev/version'] === '2' &&
          c?.status === 'True'
          ? true
          : undefined;
      },
      120_000,
    );
    const r = await invoke();
    expect(r.answer.type).toBe('provisioned-concurrency');
    expect(r.initDuration).toBe(false);
  }, 300_000);

  it('removes the pods when the configuration is deleted', async () => {
    const put = await api('PUT', 'Qualifier=live', { ProvisionedConcurrentExecutions: 2 });
    expect(put.status).toBe(202);
    await rig.until(
      '2 pods',
      async () => ((await provisionedPods()).length === 2 ? true : undefined),
      120_000,
    );
    expect((await api('DELETE', 'Qualifier=live')).status).toBe(204);
    await rig.until('no provisioned pod', async () =>
      (await provisionedPods()).length === 0 ? true : undefined,
    );
    // Calls run on demand again.
    expect((await invoke()).answer.type).toBe('on-demand');
  }, 300_000);
});
