// The gateway's /metrics after real invocations: served on its own listener, exact counts per outcome, cold
// starts, throttles, concurrency and environment gauges, and the async worker's counters.

import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../../gateway/src/config.ts';
import { createObservability } from '../../gateway/src/observability/observability.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const node = (name: string, dir: string, extra: Record<string, unknown> = {}) => ({
  name,
  runtime: 'nodejs24.x',
  handler: 'index.handler',
  codePath: fixture('node', dir),
  ...extra,
});

let serval: TestServal;
beforeAll(async () => {
  serval = await startServal({
    functions: [
      node('ok', 'echo-esm', { memoryMB: 512 }),
      node('fails', 'throws'),
      node('slow', 'timeout', { timeoutSeconds: 1 }),
      node('sleepy', 'sleepy'),
      node('disabled', 'echo-esm', { spec: { reservedConcurrency: 0 } }),
      node('async-fails', 'throws', {
        spec: {
          async: {
            maximumRetryAttempts: 0,
            destinations: { onFailure: { http: { url: 'http://127.0.0.1:9/unreachable' } } },
          },
        },
      }),
    ],
    config: { asyncTimeScale: 0.001 },
  });
});
afterAll(() => serval.stop());

async function scrape(): Promise<string> {
  const res = await fetch(serval.metricsUrl!);
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of one series, by its exact label set in exposition order; undefined when absent. */
async function value(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const selector = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  const line = (await scrape()).split('\n').find((l) => l.startsWith(`${name}{${selector}} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

const fn = (name: string) => ({ namespace: 'default', function: name });
const latest = (name: string) => ({ ...fn(name), version: '$LATEST' });
const invocation = (name: string) => ({ ...latest(name), alias: '' });

describe('the metrics listener', () => {
  it('serves the Prometheus text format on its own port, and only /metrics', async () => {
    const res = await fetch(serval.metricsUrl!);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(new URL(serval.metricsUrl!).port).not.toBe(new URL(serval.url).port);
    expect((await fetch(serval.metricsUrl!.replace('/metrics', '/other'))).status).toBe(404);
  });

  it('is not on the front door, where function callers are', async () => {
    const res = await fetch(`${serval.url}/metrics`);
    expect(res.status).toBe(404);
    expect(res.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});

describe('invocation metrics', () => {
  it('counts successes, one cold start, and bills GB-seconds at the configured memory', async () => {
    for (let i = 0; i < 3; i++) expect((await serval.invoke('ok', { i })).status).toBe(200);
    expect(await value('serval_invocations_total', { ...invocation('ok'), outcome: 'success' })).toBe(3);
    expect(await value('serval_cold_starts_total', latest('ok'))).toBe(1);
    expect(await value('serval_environment_starts_total', { ...latest('ok'), outcome: 'ready' })).toBe(1);
    expect(
      await value('serval_invocation_duration_seconds_count', { ...invocation('ok'), outcome: 'success' }),
    ).toBe(3);
    const billed = (await value('serval_billed_duration_seconds_total', invocation('ok')))!;
    const gbSeconds = (await value('serval_billed_gb_seconds_total', invocation('ok')))!;
    expect(billed).toBeGreaterThanOrEqual(0.003); // at least 1 ms each
    expect(gbSeconds).toBeCloseTo(billed * 0.5, 9);
  });

  it('counts a function error and a timeout as errors, by category', async () => {
    expect((await serval.invoke('fails', {})).headers.get('x-amz-function-error')).toBe('Unhandled');
    expect((await serval.invoke('slow', {})).headers.get('x-amz-function-error')).toBe('Unhandled');
    expect(await value('serval_invocations_total', { ...invocation('fails'), outcome: 'error' })).toBe(1);
    expect(
      await value('serval_invocation_errors_total', { ...invocation('fails'), category: 'function' }),
    ).toBe(1);
    expect(
      await value('serval_invocation_errors_total', { ...invocation('slow'), category: 'timeout' }),
    ).toBe(1);
  });

  it('counts a throttle with its reason, and not as an invocation', async () => {
    expect((await serval.invoke('disabled', {})).status).toBe(429);
    expect(
      await value('serval_throttles_total', {
        ...invocation('disabled'),
        reason: 'ReservedFunctionConcurrentInvocationLimitExceeded',
      }),
    ).toBe(1);
    expect(await value('serval_invocations_total', { ...invocation('disabled'), outcome: 'success' })).toBe(
      undefined,
    );
    expect(await value('serval_reserved_concurrency', fn('disabled'))).toBe(0);
  });

  it('shows a running invocation as a concurrent execution on a busy environment, then idle', async () => {
    await serval.invoke('sleepy', { ms: 1 }); // start the environment first
    const running = serval.invoke('sleepy', { ms: 1500 });
    await expect.poll(() => value('serval_concurrent_executions', fn('sleepy'))).toBe(1);
    expect(await value('serval_environments', { ...latest('sleepy'), state: 'busy' })).toBe(1);
    expect(
      await value('serval_unreserved_concurrent_executions', { namespace: 'default' }),
    ).toBeGreaterThanOrEqual(1);
    expect(await value('serval_account_concurrency_limit', { namespace: 'default' })).toBe(1000);
    expect((await running).status).toBe(200);
    expect(await value('serval_concurrent_executions', fn('sleepy'))).toBe(0);
    expect(await value('serval_environments', { ...latest('sleepy'), state: 'idle' })).toBe(1);
  });
});

describe('async metrics', () => {
  it('exports the per-function async series at zero before anything happens', async () => {
    expect(await value('serval_async_dead_letters_total', fn('ok'))).toBe(0);
    expect(await value('serval_async_retries_total', { ...fn('ok'), reason: 'throttle' })).toBe(0);
    expect(await value('serval_async_queue_depth', { queue: 'sqlite' })).toBeGreaterThanOrEqual(0);
  });

  it('counts an event that finally failed and became a dead letter, and the failed destination delivery', async () => {
    const res = await fetch(`${serval.url}/2015-03-31/functions/async-fails/invocations`, {
      method: 'POST',
      headers: { 'X-Amz-Invocation-Type': 'Event' },
      body: '{}',
    });
    expect(res.status).toBe(202);
    await expect
      .poll(() => value('serval_async_dead_letters_total', fn('async-fails')), { timeout: 20_000 })
      .toBe(1);
    expect(
      await value('serval_async_events_dropped_total', { ...fn('async-fails'), reason: 'retries_exhausted' }),
    ).toBe(1);
    const failures = (await scrape())
      .split('\n')
      .filter((l) => l.startsWith('serval_destination_delivery_failures_total{') && l.includes('on_failure'))
      .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);
    expect(failures).toBe(1);
    expect(await value('serval_async_dead_letter_queue_depth', { queue: 'sqlite' })).toBe(1);
  });
});

describe('with metrics off', () => {
  let quiet: TestServal;
  beforeAll(async () => {
    quiet = await startServal({ functions: [node('ok', 'echo-esm')], config: { metrics: 'off' } });
  });
  afterAll(() => quiet.stop());

  it('opens no metrics listener and still serves invocations', async () => {
    expect(quiet.metricsUrl).toBeUndefined();
    expect((await quiet.invoke('ok', { a: 1 })).text).toBe('{"a":1}');
  });
});

describe('a metrics port already in use', () => {
  // The fixed port is what Prometheus scrapes in a cluster: the cluster gateway must fail fast on it, while
  // `serval dev` (local mode, covered end to end in test/integration/dev-loop.test.ts) takes a free one.
  it('fails the start-up unless the caller allows any free port', async () => {
    const holder = createServer();
    const port = await new Promise<number>((resolve) =>
      holder.listen(0, '127.0.0.1', () => resolve((holder.address() as AddressInfo).port)),
    );
    const lines: string[] = [];
    const config = parseGatewayConfig({}, { metricsPort: port, metricsHost: '127.0.0.1', logFormat: 'text' });
    const strict = createObservability(config, (l) => lines.push(l));
    await expect(strict.serveMetrics()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await strict.close();
    const lenient = createObservability(config, (l) => lines.push(l));
    const url = await lenient.serveMetrics({ anyPortIfTaken: true });
    expect(new URL(url!).port).not.toBe(String(port));
    expect((await fetch(url!)).status).toBe(200);
    expect(lines).toEqual([
      `warn: metrics port ${port} is in use (another serval dev?); metrics are on ${url} instead`,
    ]);
    await lenient.close();
    holder.close();
  });
});
