// OpenTelemetry tracing for the gateway. Each step of an invocation is a span, and the step running now is
// kept in an AsyncLocalStorage so nested steps find their parent without passing it around. Off by default;
// even then an incoming trace context is carried through to the function.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type Attributes,
  type Context,
  createContextKey,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type TimeInput,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type IdGenerator,
  ParentBasedSampler,
  RandomIdGenerator,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  parseXRayHeader,
  spanContextFromTraceparent,
  spanContextFromXRay,
  traceIdFromRoot,
  xrayHeaderFor,
} from './trace-context.ts';

export type SpanAttributes = Record<string, string | number | boolean | undefined>;

export interface SpanOptions {
  kind?: SpanKind;
  /** Parent other than the step running now. */
  parent?: Context;
  startTime?: TimeInput;
}

export interface TracingOptions {
  exporter: SpanExporter;
  /** `simple` exports each span as it ends (tests); `batch` buffers (production exporters). */
  processor: 'simple' | 'batch';
  /** Share of new traces recorded; a caller's sampling decision is always followed. */
  sampleRatio: number;
  serviceName?: string;
}

/** An X-Ray header with a Root but no Parent names a trace, not a span: new spans join that trace. */
const PENDING_TRACE_ID = createContextKey('serval.pending-trace-id');
const NOOP_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export class Tracing {
  readonly enabled: boolean;
  private readonly provider: TracerProvider | undefined;
  private readonly tracer: Tracer | undefined;
  private readonly ids = new ContinuingIdGenerator();
  private readonly current = new AsyncLocalStorage<Context>();
  private readonly sampleRatio: number;

  /** Tracing off: no spans, but incoming trace context still reaches functions. */
  static off(): Tracing {
    return new Tracing(undefined);
  }

  constructor(options: TracingOptions | undefined) {
    this.enabled = options !== undefined;
    this.sampleRatio = options?.sampleRatio ?? 1;
    if (!options) return;
    const processor =
      options.processor === 'simple'
        ? new SimpleSpanProcessor({ exporter: options.exporter })
        : new BatchSpanProcessor({ exporter: options.exporter });
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'serval-gateway' }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio) }),
      idGenerator: this.ids,
      spanProcessors: [processor],
    });
    this.tracer = this.provider.getTracer('serval');
  }

  /** The context of the step running now. */
  active(): Context {
    return this.current.getStore() ?? ROOT_CONTEXT;
  }

  /** Runs `fn` with `context` as the step running now. */
  with<T>(context: Context, fn: () => T): T {
    return this.current.run(context, fn);
  }

  /**
   * Runs `fn` inside a child span of the step running now (or of `options.parent`). The span ends when `fn`
   * settles and is marked as an error if it throws. This is the helper to wrap any step in, e.g. auth.
   */
  async span<T>(
    name: string,
    attributes: SpanAttributes,
    fn: (span: Span) => Promise<T> | T,
    options: SpanOptions = {},
  ): Promise<T> {
    if (!this.enabled) return fn(NOOP_SPAN);
    const span = this.startSpan(name, attributes, options);
    try {
      return await this.current.run(trace.setSpan(options.parent ?? this.active(), span), () => fn(span));
    } catch (err) {
      recordError(span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  /** Starts a span the caller ends, for steps that are not one function call (a cold start, a request). */
  startSpan(name: string, attributes: SpanAttributes, options: SpanOptions = {}): Span {
    if (!this.tracer) return NOOP_SPAN;
    const parent = options.parent ?? this.active();
    // startSpan asks the id generator for a trace id synchronously, so setting it just before is safe.
    this.ids.next = parent.getValue(PENDING_TRACE_ID) as string | undefined;
    try {
      return this.tracer.startSpan(
        name,
        {
          kind: options.kind ?? SpanKind.INTERNAL,
          attributes: clean(attributes),
          startTime: options.startTime,
        },
        parent,
      );
    } finally {
      this.ids.next = undefined;
    }
  }

  /** The context `child` runs in when its parent is `span`. */
  contextWith(span: Span, parent: Context = this.active()): Context {
    return trace.setSpan(parent, span);
  }

  /**
   * The parent an incoming request or queued event continues: W3C `traceparent` first, else
   * `X-Amzn-Trace-Id`; the root context when neither is usable.
   */
  extract(traceparent: string | undefined, xray: string | undefined): Context {
    const w3c = spanContextFromTraceparent(traceparent);
    if (w3c) return trace.setSpanContext(ROOT_CONTEXT, w3c);
    const header = parseXRayHeader(xray);
    if (!header) return ROOT_CONTEXT;
    // `Sampled=?` leaves the decision to us.
    const sampled = header.sampled ?? Math.random() < this.sampleRatio;
    const remote = spanContextFromXRay({ ...header, sampled });
    if (remote) return trace.setSpanContext(ROOT_CONTEXT, remote);
    return ROOT_CONTEXT.setValue(PENDING_TRACE_ID, traceIdFromRoot(header.root));
  }

  /** The parent an invocation continues: the step running now, else the trace header it was given. */
  parentFor(xray: string | undefined): Context {
    const active = this.active();
    if (trace.getSpanContext(active) || active.getValue(PENDING_TRACE_ID)) return active;
    return xray ? this.extract(undefined, xray) : ROOT_CONTEXT;
  }

  /**
   * The X-Amzn-Trace-Id a function sees (reference §13): the trace of `span` with `span` as its Parent; with
   * tracing off, the caller's W3C context mapped to X-Ray; otherwise `fallback`, the caller's X-Ray header.
   */
  functionTraceHeader(span: Span, fallback: string): string {
    let context: SpanContext | undefined = span.spanContext();
    if (!trace.isSpanContextValid(context)) context = trace.getSpanContext(this.active());
    if (!context || !trace.isSpanContextValid(context)) return fallback;
    return xrayHeaderFor(context, parseXRayHeader(fallback)?.lineage);
  }

  /**
   * The X-Amzn-Trace-Id to keep with work that continues later, such as an accepted Event invocation: it
   * names the step running now (the front door), so the later invocation joins the caller's trace. Without
   * an active trace context it is `fallback`, the header the caller sent.
   */
  carriedTraceHeader(fallback: string | undefined): string | undefined {
    const context = trace.getSpanContext(this.active());
    if (!context || !trace.isSpanContextValid(context)) return fallback;
    return xrayHeaderFor(context, parseXRayHeader(fallback)?.lineage);
  }

  /** Exports what is buffered; call before reading an exporter or exiting. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }
}

export function recordError(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  if (err instanceof Error) span.recordException(err);
}

function clean(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v;
  return out;
}

/** Random ids, except that a root span may be told which trace it continues. */
class ContinuingIdGenerator implements IdGenerator {
  next: string | undefined;
  private readonly random = new RandomIdGenerator();

  generateTraceId(): string {
    return this.next ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    return this.random.generateSpanId();
  }
}
