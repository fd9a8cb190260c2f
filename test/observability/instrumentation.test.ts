// The pieces the rest of the gateway calls into: the span helper (auth wraps its step in it), the queue-wait
// span of an async event, the structured gateway log, and bounded error categories.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { GatewayLogger } from '../../gateway/src/observability/gateway-log.ts';
import { errorCategory, InvocationObserver } from '../../gateway/src/observability/invocation-observer.ts';
import { GatewayMetrics } from '../../gateway/src/observability/metrics.ts';
import { Tracing } from '../../gateway/src/observability/tracing.ts';

function tracing() {
  const exporter = new InMemorySpanExporter();
  return { exporter, tracing: new Tracing({ exporter, processor: 'simple', sampleRatio: 1 }) };
}

const result = {
  requestId: 'r1',
  outcome: 'success' as const,
  durationMs: 1500,
  billedDurationMs: 1500,
  maxMemoryUsedMB: 60,
  logTail: '',
};

describe('Tracing.span', () => {
  it('nests a step under the step running now across awaits, and returns its value', async () => {
    const { exporter, tracing: t } = tracing();
    const value = await t.span('front door', {}, async () => {
      await new Promise((r) => setTimeout(r, 5));
      return t.span('auth', { 'serval.auth.method': 'jwt' }, async () => 42);
    });
    expect(value).toBe(42);
    const [auth, front] = exporter.getFinishedSpans();
    expect(auth!.name).toBe('auth');
    expect(auth!.parentSpanContext?.spanId).toBe(front!.spanContext().spanId);
    expect(auth!.attributes).toEqual({ 'serval.auth.method': 'jwt' });
  });

  it('marks the span as an error and rethrows when the step throws', async () => {
    const { exporter, tracing: t } = tracing();
    await expect(
      t.span('auth', {}, () => {
        throw new Error('bad token');
      }),
    ).rejects.toThrow('bad token');
    const [auth] = exporter.getFinishedSpans();
    expect(auth!.status).toEqual({ code: 2, message: 'bad token' });
    expect(auth!.events.map((e) => e.name)).toEqual(['exception']);
  });

  it('gives work that continues later (a queued event) a header naming the step running now', async () => {
    const { tracing: t } = tracing();
    expect(t.carriedTraceHeader('Root=1-5759e988-bd862e3fe1be46a994272793')).toBe(
      'Root=1-5759e988-bd862e3fe1be46a994272793',
    );
    await t.span('front door', {}, (span) => {
      const { traceId, spanId } = span.spanContext();
      expect(t.carriedTraceHeader(undefined)).toBe(
        `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${spanId};Sampled=1`,
      );
    });
  });

  it('runs the step and records nothing when tracing is off', async () => {
    expect(await Tracing.off().span('auth', {}, () => 'ran')).toBe('ran');
  });
});

describe('an async event through the InvocationObserver', () => {
  it('records the queue wait from acceptance, in the trace its caller started', async () => {
    const { exporter, tracing: t } = tracing();
    const metrics = new GatewayMetrics({ processMetrics: false });
    const observer = new InvocationObserver({ metrics, tracing: t });
    const queuedSince = Date.now() - 2000;
    const watch = observer.begin(
      { namespace: 'default', name: 'fn', version: '3', qualifier: 'live', memoryMB: 512 },
      {
        requestId: 'r1',
        traceHeader: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
        queuedSince,
      },
    );
    await watch.run(async () => ({ result, body: Buffer.alloc(0) }));
    const spans = exporter.getFinishedSpans();
    const wait = spans.find((s) => s.name === 'queue wait')!;
    const invoke = spans.find((s) => s.name === 'invoke')!;
    for (const s of [wait, invoke]) {
      expect(s.spanContext().traceId).toBe('5759e988bd862e3fe1be46a994272793');
      expect(s.parentSpanContext?.spanId).toBe('53995c3f42cd8ad8');
    }
    expect(wait.startTime[0]).toBe(Math.floor(queuedSince / 1000));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(
      /serval_async_event_age_seconds_bucket\{le="2.5",namespace="default",function="fn"\} 1/,
    );
    // 1.5 s billed at 512 MB is 0.75 GB-seconds; the alias is a label, the version too.
    expect(text).toContain(
      'serval_billed_gb_seconds_total{namespace="default",function="fn",version="3",alias="live"} 0.75',
    );
  });

  it('counts a throttle once, not also as a platform error', async () => {
    const metrics = new GatewayMetrics({ processMetrics: false });
    const watch = new InvocationObserver({ metrics, tracing: Tracing.off() }).begin(
      { namespace: 'default', name: 'fn', version: '$LATEST', memoryMB: 128 },
      { requestId: 'r2' },
    );
    await expect(
      watch.run(async () => {
        watch.admit('ReservedFunctionConcurrentInvocationLimitExceeded');
        throw new Error('429');
      }),
    ).rejects.toThrow();
    const text = await metrics.registry.metrics();
    expect(text).toContain(
      'serval_throttles_total{namespace="default",function="fn",version="$LATEST",alias="",reason="ReservedFunctionConcurrentInvocationLimitExceeded"} 1',
    );
    expect(text).not.toMatch(/serval_invocations_total\{/);
  });
});

describe('error categories', () => {
  it.each([
    ['Sandbox.Timedout', 'timeout'],
    ['Sandbox.Failure', 'sandbox'],
    ['Runtime.ExitError', 'runtime'],
    ['Runtime.ImportModuleError', 'runtime'],
    ['MyValidationError', 'function'],
    [undefined, 'function'],
  ])('%s is %s', (errorType, category) => {
    expect(errorCategory(errorType)).toBe(category);
  });
});

describe('GatewayLogger', () => {
  const now = () => new Date('2026-01-02T03:04:05.678Z');

  it('writes one JSON object per line with level, component, message, fields and the active trace', async () => {
    const lines: string[] = [];
    const { tracing: t } = tracing();
    const log = new GatewayLogger({ format: 'json', write: (l) => lines.push(l), tracing: t, now });
    log.line('plain line');
    await t.span('invoke', {}, () =>
      log.warn('invocation did not run', { requestId: 'r1', function: 'fn', version: '$LATEST' }),
    );
    const [plain, warn] = lines.map((l) => JSON.parse(l));
    expect(plain).toEqual({
      time: '2026-01-02T03:04:05.678Z',
      level: 'info',
      component: 'gateway',
      msg: 'plain line',
    });
    expect(warn).toMatchObject({
      level: 'warn',
      msg: 'invocation did not run',
      requestId: 'r1',
      function: 'fn',
      version: '$LATEST',
      trace_id: expect.stringMatching(/^[0-9a-f]{32}$/),
      span_id: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('writes message key=value text for a terminal, quoting values with spaces', () => {
    const lines: string[] = [];
    const log = new GatewayLogger({ format: 'text', write: (l) => lines.push(l), now });
    log.info('skipped fn.yaml');
    log.error('metrics collection failed', { error: 'disk full', code: 5 });
    expect(lines).toEqual(['skipped fn.yaml', 'error: metrics collection failed error="disk full" code=5']);
  });
});
