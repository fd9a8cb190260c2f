// Deployments in local mode under a scaled clock: the gateway shifts an alias's traffic on a CodeDeploy
// schedule, runs the hooks through the dispatcher, and rolls back on its own per-version counters.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/free-port.ts';
import type { TestServal } from '../support/serval.ts';
import {
  canaryUntilRolledBack,
  controlCall,
  deployments,
  find,
  shiftedSteps,
  shopGateway,
} from './support.ts';

describe('a fast clock (one minute is 60 ms)', () => {
  let serval: TestServal;
  beforeAll(async () => {
    serval = await shopGateway(0.001);
  });
  afterAll(() => serval?.stop());
  const live = () => deployments(serval, 'shop', 'live');

  it('refuses bad input with Lambda error types and leaves the alias alone', async () => {
    const cases: Array<[Record<string, unknown>, number, string, RegExp]> = [
      [
        { strategy: 'Canary10Percent5Minute', targetVersion: '2' },
        400,
        'InvalidParameterValueException',
        /strategy/,
      ],
      [{ strategy: 'AllAtOnce', targetVersion: '9' }, 404, 'ResourceNotFoundException', /version 9/],
      [
        { strategy: 'AllAtOnce', targetVersion: '1' },
        400,
        'InvalidParameterValueException',
        /already on version 1/,
      ],
      [
        { strategy: 'AllAtOnce', targetVersion: '2', preTrafficHook: 'no-such-hook' },
        400,
        'InvalidParameterValueException',
        /preTrafficHook: no-such-hook is not a function/,
      ],
      [
        { strategy: 'AllAtOnce', targetVersion: '2', rollback: { promql: ['up'] } },
        400,
        'InvalidParameterValueException',
        /SERVAL_PROMETHEUS_URL/,
      ],
      [
        { strategy: 'AllAtOnce', targetVersion: '2', extra: 1 },
        400,
        'InvalidParameterValueException',
        /extra/,
      ],
    ];
    for (const [spec, status, type, message] of cases) {
      const r = await live().start(spec);
      expect({ status: r.status, type: r.type }, JSON.stringify(spec)).toEqual({ status, type });
      expect(String(r.body.message ?? r.body.Message)).toMatch(message);
    }
    const unknown = await deployments(serval, 'shop', 'nope').start({
      strategy: 'AllAtOnce',
      targetVersion: '2',
    });
    expect(unknown.type).toBe('ResourceNotFoundException');
    const view = await live().view();
    expect(view).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
    expect(view.current).toBeUndefined();
  });

  it('a failing pre-traffic hook ends the deployment before any traffic moves', async () => {
    const started = await live().start({
      strategy: 'Linear10PercentEvery1Minute',
      targetVersion: '2',
      preTrafficHook: 'hook-fail',
    });
    expect(started.status).toBe(201);
    const id = String(started.body.id);
    await expect.poll(async () => find(await live().view(), id)?.phase, { timeout: 30_000 }).toBe('Failed');
    const view = await live().view();
    expect(find(view, id)?.reason).toMatch(/preTrafficHook: hook hook-fail reported Failed/);
    expect(view).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
    expect(shiftedSteps(serval.gatewayLog(), id)).toEqual([]);
    // The hook got CodeDeploy's two fields and the deployment's context.
    const event = JSON.parse(
      serval
        .logs('hook-fail')
        .find((l) => l.includes('HOOK '))!
        .split('HOOK ')[1]!,
    );
    expect(event).toMatchObject({
      DeploymentId: id,
      LifecycleEvent: 'BeforeAllowTraffic',
      FunctionName: 'shop',
      Alias: 'live',
      CurrentVersion: '1',
      TargetVersion: '2',
    });
    expect(event.LifecycleEventHookExecutionId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a linear deployment reaches 100 % in its ten steps, with both hooks passing', async () => {
    const started = await live().start({
      strategy: 'Linear10PercentEvery1Minute',
      targetVersion: '2',
      preTrafficHook: 'hook-ok',
      postTrafficHook: 'hook-ok',
      rollback: { errorRate: 0.5 },
    });
    const id = String(started.body.id);
    await expect
      .poll(async () => find(await live().view(), id)?.phase, { timeout: 30_000 })
      .toBe('Succeeded');
    expect(shiftedSteps(serval.gatewayLog(), id)).toEqual(
      Array.from({ length: 10 }, (_, i) => `${i + 1}/10:${(i + 1) * 10}`),
    );
    const view = await live().view();
    expect(view).toMatchObject({ functionVersion: '2', additionalVersionWeights: {} });
    expect(view.history?.[0]).toMatchObject({ id, phase: 'Succeeded', targetWeight: 1, fromVersion: '1' });
    const hookEvents = serval
      .logs('hook-ok')
      .filter((l) => l.includes(`"DeploymentId":"${id}"`))
      .map((l) => JSON.parse(l.split('HOOK ')[1]!).LifecycleEvent);
    expect(hookEvents).toEqual(['BeforeAllowTraffic', 'AfterAllowTraffic']);
    const res = await serval.invoke('shop:live', {});
    expect(res.headers.get('x-amz-executed-version')).toBe('2');
    expect(res.json()).toEqual({ version: 'two' });
  });
});

describe('a slower clock (one minute is 1.2 s)', () => {
  let serval: TestServal;
  // A "Prometheus" that hangs up on every request: the PromQL case must pause, not proceed, and not spin.
  let prometheusHits = 0;
  const hangUp = createServer((req) => {
    prometheusHits++;
    req.socket.destroy();
  });
  beforeAll(async () => {
    const port = await freePort();
    await new Promise<void>((resolve) => hangUp.listen(port, '127.0.0.1', resolve));
    serval = await shopGateway(0.02, `http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    await serval?.stop();
    await new Promise((resolve) => hangUp.close(resolve));
  });
  const live = () => deployments(serval, 'shop', 'live');

  it('a canary whose new version fails above the threshold rolls back; callers then see only the old version', async () => {
    // Warm both versions so the canary's first calls do not wait for a cold start.
    const id = await canaryUntilRolledBack(serval, { errorRate: 0.05 }, 120_000);
    const view = await live().view();
    expect(find(view, id)?.reason).toMatch(/version 3 failed \d+ of \d+ invocations/);
    expect(view).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
    for (let i = 0; i < 200; i++) {
      const res = await serval.invoke('shop:live', {});
      expect(res.headers.get('x-amz-executed-version')).toBe('1');
      expect(res.headers.get('x-amz-function-error')).toBeNull();
    }
    const metrics = await (await fetch(serval.metricsUrl!)).text();
    expect(metrics).toMatch(
      /serval_deployments_total\{namespace="default",function="shop",alias="live",event="rolled_back"\} 1/,
    );
    expect(metrics).toMatch(/serval_deployment_target_weight\{[^}]*version="3"\} 0/);
  }, 300_000);

  it('refuses a second deployment on the alias; stop keeps the weights, rollback restores the old version', async () => {
    const first = await live().start({ strategy: 'Linear10PercentEvery10Minutes', targetVersion: '2' });
    expect(first.status).toBe(201);
    const id = String(first.body.id);
    const second = await live().start({ strategy: 'AllAtOnce', targetVersion: '2' });
    expect({ status: second.status, type: second.type }).toEqual({
      status: 409,
      type: 'ResourceConflictException',
    });
    // UpdateAlias would fight the deployment over the weights.
    const update = await controlCall(serval, 'PUT', '/2015-03-31/functions/shop/aliases/live', {
      FunctionVersion: '2',
    });
    expect({ status: update.status, type: update.type }).toEqual({
      status: 409,
      type: 'ResourceConflictException',
    });
    expect(String(update.body.message)).toContain(`deployment ${id}`);
    await expect.poll(async () => (await live().view()).additionalVersionWeights).toEqual({ '2': 0.1 });
    const stopped = await live().stop();
    expect(stopped.body).toMatchObject({ id, phase: 'Stopped', reason: 'stopped by the operator' });
    expect(await live().view()).toMatchObject({
      functionVersion: '1',
      additionalVersionWeights: { '2': 0.1 },
    });
    const again = await live().start({ strategy: 'AllAtOnce', targetVersion: '2' });
    expect(again.type).toBe('InvalidParameterValueException');
    const rolledBack = await live().rollback();
    expect(rolledBack.body).toMatchObject({ id, phase: 'RolledBack' });
    expect(await live().view()).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
    expect((await live().rollback()).type).toBe('ResourceConflictException');
  });

  it('an unreachable Prometheus pauses the deployment with the reason; it does not proceed blind', async () => {
    const started = await live().start({
      strategy: 'Linear10PercentEvery1Minute',
      targetVersion: '2',
      rollback: {
        promql: ['sum(rate(serval_invocations_total{version="{{version}}",outcome="error"}[1m])) > 0'],
      },
    });
    const id = String(started.body.id);
    await expect.poll(async () => find(await live().view(), id)?.phase).toBe('Paused');
    expect(find(await live().view(), id)?.reason).toMatch(
      /Prometheus at http:\/\/127\.0\.0\.1:\d+ is unreachable/,
    );
    // Several step intervals (1.2 s each) later it is still paused at its first step, having asked about
    // once per check period (200 ms), not in a tight loop.
    const hitsBefore = prometheusHits;
    await new Promise((r) => setTimeout(r, 3000));
    expect(prometheusHits - hitsBefore).toBeGreaterThan(0);
    expect(prometheusHits - hitsBefore).toBeLessThan(30);
    const view = await live().view();
    expect(find(view, id)).toMatchObject({ phase: 'Paused', step: 0, targetWeight: 0.1 });
    expect(view.additionalVersionWeights).toEqual({ '2': 0.1 });
    expect((await live().rollback()).body).toMatchObject({ id, phase: 'RolledBack' });
    expect(await live().view()).toMatchObject({ functionVersion: '1', additionalVersionWeights: {} });
  });
});
