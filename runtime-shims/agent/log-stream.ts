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

/** Writes records to `sink` and keeps the current invocation's lines for X-Amz-Log-Result. */
export class LogStream {
  private readonly sink: (line: string) => void;
  private readonly spec: EnvironmentSpec;
  private tail: string[] = [];
  private tailBytes = 0;
  private partial = '';
  private traced: Traced | undefined;

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
    this.tail = [];
    this.tailBytes = 0;
    this.traced = sampled(traceId);
    if (this.json) {
      this.platform('platform.start', { requestId, version: this.spec.version, ...this.tracing() });
    } else {
      this.line(`START RequestId: ${requestId} Version: ${this.spec.version}`);
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
    this.line(`${new Date().toISOString()} ${requestId} Task timed out after ${seconds.toFixed(2)} seconds`);
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
    const failure = errorType && status !== 'success' ? { errorType } : {};
    if (this.json) {
      this.platform('platform.runtimeDone', {
        requestId,
        status,
        ...failure,
        metrics: { durationMs: round2(metrics.durationMs), producedBytes: metrics.producedBytes ?? 0 },
        ...this.tracing(),
      });
      this.platform('platform.report', {
        requestId,
        status,
        ...failure,
        ...this.tracing(),
        metrics: {
          durationMs: round2(metrics.durationMs),
          billedDurationMs: metrics.billedDurationMs,
          memorySizeMB: metrics.memorySizeMB,
          maxMemoryUsedMB: metrics.maxMemoryUsedMB,
          ...(metrics.initDurationMs !== undefined ? { initDurationMs: round2(metrics.initDurationMs) } : {}),
        },
      });
    } else {
      this.line(`END RequestId: ${requestId}`);
      const init =
        metrics.initDurationMs !== undefined
          ? `Init Duration: ${metrics.initDurationMs.toFixed(2)} ms\t`
          : '';
      this.line(
        `REPORT RequestId: ${requestId}\tDuration: ${metrics.durationMs.toFixed(2)} ms\t` +
          `Billed Duration: ${metrics.billedDurationMs} ms\tMemory Size: ${metrics.memorySizeMB} MB\t` +
          `Max Memory Used: ${metrics.maxMemoryUsedMB} MB\t${init}`,
      );
      if (this.traced)
        this.line(`XRAY TraceId: ${this.traced.root}\tSegmentId: ${this.traced.parent}\tSampled: true`);
    }
    const tail = Buffer.from(this.tail.join(''));
    this.tail = [];
    this.tailBytes = 0;
    return tail.subarray(Math.max(0, tail.length - TAIL_BYTES)).toString('base64');
  }

  private tracing(): { tracing?: { spanId: string; type: 'X-Amzn-Trace-Id'; value: string } } {
    if (!this.traced) return {};
    return { tracing: { spanId: this.traced.parent, type: 'X-Amzn-Trace-Id', value: this.traced.header } };
  }

  private get json(): boolean {
    return this.spec.logFormat === 'JSON';
  }

  private platform(type: string, record: Record<string, unknown>): void {
    this.line(JSON.stringify({ time: new Date().toISOString(), type, record }));
  }

  private line(line: string): void {
    this.sink(line);
    const entry = `${line}\n`;
    this.tail.push(entry);
    this.tailBytes += entry.length;
    // Keep a little more than the tail needs, so trimming is rare.
    while (this.tailBytes > TAIL_BYTES * 2 && this.tail.length > 1)
      this.tailBytes -= this.tail.shift()!.length;
  }
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
