// An environment's log stream: the runtime's output lines and the platform's START/END/REPORT records.
import type { EnvironmentSpec } from '../../apis/environment-link.ts';

const TAIL_BYTES = 4096;

export interface ReportMetrics {
  durationMs: number;
  billedDurationMs: number;
  memorySizeMB: number;
  maxMemoryUsedMB: number;
  initDurationMs?: number | undefined;
  /** Size of the response or error payload (platform.runtimeDone). */
  producedBytes?: number | undefined;
}

/** The sampled X-Ray context of the current invocation; unsampled invocations carry no tracing records. */
interface Traced {
  header: string;
  root: string;
  parent: string;
}
export type ReportStatus = 'success' | 'error' | 'timeout';

/** The lines of one invocation under way, for its X-Amz-Log-Result. */
interface Invocation {
  tail: string[];
  tailBytes: number;
  traced: Traced | undefined;
}

/**
 * Writes records to `sink` and keeps each running invocation's lines for X-Amz-Log-Result. With one
 * invocation at a time every line is its own; when several run at once (multi-concurrency) a runtime line
 * belongs to the invocation whose request id it carries, as the runtimes' log records all do.
 */
export class LogStream {
  private readonly sink: (line: string) => void;
  private readonly spec: EnvironmentSpec;
  private readonly running = new Map<string, Invocation>();
  private partial = '';

  constructor(spec: EnvironmentSpec, sink: (line: string) => void) {
    this.spec = spec;
    this.sink = sink;
  }

  /** Raw output from the runtime process; split into lines, a partial line kept until its end arrives. */
  runtimeOutput(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.line(line);
  }

  flushPartial(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** `traceId` is the invocation's X-Amzn-Trace-Id (Lambda-Runtime-Trace-Id). */
  start(requestId: string, traceId?: string): void {
    const invocation: Invocation = { tail: [], tailBytes: 0, traced: sampled(traceId) };
    this.running.set(requestId, invocation);
    if (this.json) {
      this.platform(
        'platform.start',
        { requestId, version: this.spec.version, ...tracing(invocation) },
        requestId,
      );
    } else {
      this.line(`START RequestId: ${requestId} Version: ${this.spec.version}`, requestId);
    }
  }

  /**
   * A runtime process starts initialising (JSON only; the Text format has no line for it). The phase is
   * `invoke` when a timed-out init is retried inside the invocation.
   */
  initStart(phase: 'init' | 'invoke' = 'init'): void {
    if (!this.json) return;
    this.platform('platform.initStart', {
      initializationType: this.spec.initializationType,
      phase,
      runtimeVersion: this.spec.runtime,
      functionName: this.spec.functionName,
      functionVersion: this.spec.version,
    });
  }

  timedOut(requestId: string, seconds: number): void {
    this.line(
      `${new Date().toISOString()} ${requestId} Task timed out after ${seconds.toFixed(2)} seconds`,
      requestId,
    );
  }

  initReport(durationMs: number, status: 'error' | 'timeout', errorType?: string): void {
    if (this.json) {
      this.platform('platform.initReport', {
        initializationType: this.spec.initializationType,
        phase: 'init',
        status,
        ...(errorType ? { errorType } : {}),
        metrics: { durationMs: round2(durationMs) },
      });
      return;
    }
    const error = errorType ? `\tError Type: ${errorType}` : '';
    this.line(
      `INIT_REPORT Init Duration: ${durationMs.toFixed(2)} ms\tPhase: init\tStatus: ${status}${error}`,
    );
  }

  /** Ends the invocation; returns base64 of its last 4 KB of log. */
  end(requestId: string, status: ReportStatus, metrics: ReportMetrics, errorType?: string): string {
    this.flushPartial();
    const invocation = this.running.get(requestId);
    const failure = errorType && status !== 'success' ? { errorType } : {};
    if (this.json) {
      this.platform(
        'platform.runtimeDone',
        {
          requestId,
          status,
          ...failure,
          metrics: { durationMs: round2(metrics.durationMs), producedBytes: metrics.producedBytes ?? 0 },
          ...tracing(invocation),
        },
        requestId,
      );
      this.platform(
        'platform.report',
        {
          requestId,
          status,
          ...failure,
          ...tracing(invocation),
          metrics: {
            durationMs: round2(metrics.durationMs),
            billedDurationMs: metrics.billedDurationMs,
            memorySizeMB: metrics.memorySizeMB,
            maxMemoryUsedMB: metrics.maxMemoryUsedMB,
            ...(metrics.initDurationMs !== undefined
              ? { initDurationMs: round2(metrics.initDurationMs) }
              : {}),
          },
        },
        requestId,
      );
    } else {
      this.line(`END RequestId: ${requestId}`, requestId);
      const init =
        metrics.initDurationMs !== undefined
          ? `Init Duration: ${metrics.initDurationMs.toFixed(2)} ms\t`
          : '';
      this.line(
        `REPORT RequestId: ${requestId}\tDuration: ${metrics.durationMs.toFixed(2)} ms\t` +
          `Billed Duration: ${metrics.billedDurationMs} ms\tMemory Size: ${metrics.memorySizeMB} MB\t` +
          `Max Memory Used: ${metrics.maxMemoryUsedMB} MB\t${init}`,
        requestId,
      );
      const traced = invocation?.traced;
      if (traced)
        this.line(`XRAY TraceId: ${traced.root}\tSegmentId: ${traced.parent}\tSampled: true`, requestId);
    }
    this.running.delete(requestId);
    const tail = Buffer.from(invocation?.tail.join('') ?? '');
    return tail.subarray(Math.max(0, tail.length - TAIL_BYTES)).toString('base64');
  }

  private get json(): boolean {
    return this.spec.logFormat === 'JSON';
  }

  private platform(type: string, record: Record<string, unknown>, requestId?: string): void {
    this.line(JSON.stringify({ time: new Date().toISOString(), type, record }), requestId);
  }

  private line(line: string, requestId?: string): void {
    this.sink(line);
    const invocation = this.owner(line, requestId);
    if (!invocation) return;
    const entry = `${line}\n`;
    invocation.tail.push(entry);
    invocation.tailBytes += entry.length;
    // Keep a little more than the tail needs, so trimming is rare.
    while (invocation.tailBytes > TAIL_BYTES * 2 && invocation.tail.length > 1)
      invocation.tailBytes -= invocation.tail.shift()!.length;
  }

  /** Whose tail a line joins: the one running invocation, or among several the one the line names. */
  private owner(line: string, requestId: string | undefined): Invocation | undefined {
    if (requestId !== undefined) return this.running.get(requestId);
    if (this.running.size <= 1) return this.running.values().next().value;
    for (const [id, invocation] of this.running) if (line.includes(id)) return invocation;
    return undefined;
  }
}

function tracing(invocation: Invocation | undefined): {
  tracing?: { spanId: string; type: 'X-Amzn-Trace-Id'; value: string };
} {
  const traced = invocation?.traced;
  if (!traced) return {};
  return { tracing: { spanId: traced.parent, type: 'X-Amzn-Trace-Id', value: traced.header } };
}

/** Reads Root, Parent and Sampled from an X-Amzn-Trace-Id (reference §13.1); only sampled traces count. */
function sampled(header: string | undefined): Traced | undefined {
  if (!header) return undefined;
  const fields = new Map(
    header.split(';').map((p) => p.split('=', 2).map((x) => x.trim()) as [string, string]),
  );
  const root = fields.get('Root');
  const parent = fields.get('Parent');
  if (fields.get('Sampled') !== '1' || !root || !parent) return undefined;
  return { header, root, parent };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
