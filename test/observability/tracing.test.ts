// Traces of real invocations (in-memory exporter): the span tree of one invocation, and the X-Ray header the
// function sees naming the same trace (reference §13), for callers with and without trace context.
import { request } from 'node:http';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { functionUrlId } from '../../gateway/src/front-door/function-urls/url-table.ts';
import { withoutFirstHop } from '../support/lineage.ts';
import { fixture, startServal, type TestServal } from '../support/serval.ts';

const INVOKE_ROUTE = 'POST /2015-03-31/functions/:functionName/invocations';
const exporter = new InMemorySpanExporter();
let serval: TestServal;

beforeAll(async () => {
  serval = await startServal({
    functions: [
      {
        name: 'context',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'context'),
      },
      {
        name: 'throws',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'throws'),
      },
      {
        name: 'web',
        runtime: 'nodejs24.x',
        handler: 'index.handler',
        codePath: fixture('node', 'context'),
        spec: { url: {} },
      },
    ],
    observability: { spanExporter: exporter },
  });
});
afterAll(() => serval.stop());

/** Invokes and returns the finished spans of that request's trace once its front-door span has ended. */
async function traced(name: string, headers: Record<string, string> = {}) {
  exporter.reset();
  const res = await serval.invoke(name, {}, headers);
  await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === INVOKE_ROUTE)).toBe(true);
  const spans = exporter.getFinishedSpans();
  const root = spans.find((s) => s.name === INVOKE_ROUTE)!;
  return { res, spans, root, traceId: root.spanContext().traceId };
}

const id = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The tree as nested [name, children] pairs, children sorted by start time. */
function tree(spans: ReadableSpan[], root: ReadableSpan): unknown {
  const children = spans
    .filter((s) => parentOf(s) === id(root))
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
  return children.length === 0 ? root.name : [root.name, children.map((c) => tree(spans, c))];
}

describe('span tree of one invocation', () => {
  it('cold: front door → invoke → admission, dispatch → cold start, runtime → init; the function sees the runtime span', async () => {
    const { res, spans, root, traceId } = await traced('context');
    expect(res.status).toBe(200);
    expect(root.parentSpanContext).toBeUndefined();
    expect(tree(spans, root)).toEqual([
      INVOKE_ROUTE,
      [['invoke', ['admission', ['dispatch', ['cold start', ['runtime', ['init']]]]]]],
    ]);
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]));

    const runtime = spans.find((s) => s.name === 'runtime')!;
    const seen = (res.json() as { traceId: string }).traceId;
    expect(withoutFirstHop(seen)).toBe(
      `Root=1-${traceId.slice(0, 8)}-${traceId.slice(8)};Parent=${id(runtime)};Sampled=1`,
    );
    expect(root.attributes).toMatchObject({
      'http.route': '/2015-03-31/functions/:functionName/invocations',
    });
    expect(spans.find((s) => s.name === 'invoke')!.attributes).toMatchObject({
      'faas.invoked_name': 'context',
      'faas.coldstart': true,
      'serval.outcome': 'success',
    });
    // A traced invocation's REPORT is followed by its XRAY line (reference §11.1).
    await expect
      .poll(() => serval.logs('context'))
      .toContain(
        `XRAY TraceId: 1-${traceId.slice(0, 8)}-${traceId.slice(8)}\tSegmentId: ${id(runtime)}\tSampled: true`,
      );
  });

  it('warm: no cold start and no init span', async () => {
    const { spans, root } = await traced('context');
    expect(tree(spans, root)).toEqual([INVOKE_ROUTE, [['invoke', ['admission', ['dispatch', ['runtime']]]]]]);
  });

  it('a function error marks the runtime span as failed and names the error type', async () => {
    const { spans } = await traced('throws');
    const runtime = spans.find((s) => s.name === 'runtime')!;
    expect(runtime.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(spans.find((s) => s.name === 'invoke')!.attributes).toMatchObject({
      'serval.outcome': 'error',
      'serval.error_type': 'Error',
    });
  });
});

describe('incoming trace context', () => {
  it('continues a W3C traceparent: same trace, the caller span as parent', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { res, root, traceId } = await traced('context', { traceparent });
    expect(traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(parentOf(root)).toBe('00f067aa0ba902b7');
    expect((res.json() as { traceId: string }).traceId).toMatch(
      /^Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=[0-9a-f]{16};Sampled=1;Lineage=[0-9a-f]{8}:1$/,
    );
  });

  it('continues an X-Amzn-Trace-Id with a Parent', async () => {
    const xray = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const { root, traceId } = await traced('context', { 'X-Amzn-Trace-Id': xray });
    expect(traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(parentOf(root)).toBe('53995c3f42cd8ad8');
  });

  it('works the same through a function URL, whose router reads the body itself', async () => {
    exporter.reset();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const res = await fetch(`${serval.url}/lambda-url/${functionUrlId('default', 'web', '$LATEST')}/hi`, {
      method: 'POST',
      headers: { traceparent },
      body: 'some body',
    });
    expect(res.status).toBe(200);
    await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === 'POST')).toBe(true);
    const spans = exporter.getFinishedSpans();
    const root = spans.find((s) => s.name === 'POST')!;
    expect(parentOf(root)).toBe('00f067aa0ba902b7');
    expect(parentOf(spans.find((s) => s.name === 'invoke')!)).toBe(id(root));
    const runtime = spans.find((s) => s.name === 'runtime')!;
    expect(withoutFirstHop(((await res.json()) as { traceId: string }).traceId)).toBe(
      `Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=${id(runtime)};Sampled=1`,
    );
  });

  it('keeps the context when the body arrives after the request has started', async () => {
    exporter.reset();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const { port } = new URL(serval.url);
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(
        { port, method: 'POST', path: '/2015-03-31/functions/context/invocations', headers: { traceparent } },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d)).on('end', () => resolve(body));
        },
      );
      req.on('error', reject);
      req.write('{"slow":');
      setTimeout(() => req.end('true}'), 150);
    });
    expect((JSON.parse(text) as { traceId: string }).traceId).toMatch(
      /^Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=[0-9a-f]{16};Sampled=1;Lineage=[0-9a-f]{8}:1$/,
    );
    await expect.poll(() => exporter.getFinishedSpans().some((s) => s.name === INVOKE_ROUTE)).toBe(true);
    const invoke = exporter.getFinishedSpans().find((s) => s.name === 'invoke')!;
    expect(parentOf(invoke)).toBe(id(exporter.getFinishedSpans().find((s) => s.name === INVOKE_ROUTE)!));
  });

  it('joins the trace of an X-Amzn-Trace-Id that names only a Root', async () => {
    const { root, traceId } = await traced('context', {
      'X-Amzn-Trace-Id': 'Root=1-5759e988-bd862e3fe1be46a994272793',
    });
    expect(traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(root.parentSpanContext).toBeUndefined();
  });

  it('follows a caller that did not sample: nothing recorded, the function sees Sampled=0 on the same trace', async () => {
    exporter.reset();
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
    const res = await serval.invoke('context', {}, { traceparent });
    expect((res.json() as { traceId: string }).traceId).toMatch(
      /^Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:1$/,
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('with tracing off (the default)', () => {
  let plain: TestServal;
  beforeAll(async () => {
    plain = await startServal({
      functions: [
        {
          name: 'context',
          runtime: 'nodejs24.x',
          handler: 'index.handler',
          codePath: fixture('node', 'context'),
        },
      ],
    });
  });
  afterAll(() => plain.stop());

  it('maps an incoming traceparent to the X-Ray header the function sees', async () => {
    const res = await plain.invoke(
      'context',
      {},
      {
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
    );
    expect(withoutFirstHop((res.json() as { traceId: string }).traceId)).toBe(
      'Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1',
    );
  });

  it('passes an X-Amzn-Trace-Id through and starts an unsampled trace without one', async () => {
    const xray = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    const given = await plain.invoke('context', {}, { 'X-Amzn-Trace-Id': xray });
    expect(withoutFirstHop((given.json() as { traceId: string }).traceId)).toBe(xray);
    const fresh = await plain.invoke('context', {});
    expect((fresh.json() as { traceId: string }).traceId).toMatch(
      /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0;Lineage=[0-9a-f]{8}:1$/,
    );
  });
});
