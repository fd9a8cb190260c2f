// An environment's log stream: the runtime's output lines and the platform's START/END/REPORT records.
import type { EnvironmentSpec } from '../../apis/environment-link.ts';

const TAIL_BYTES = 4096;

export interface ReportMetrics {
  durationMs: number;
  billedDurationMs: number;
  memorySizeMB: number;
  maxMemoryUsedMB: number;
  initDurationMs?: number | undefined;
}
export type ReportStatus = 'success' | 'error' | 'timeout';

/** Writes records to `sink` and keeps the current invocation's lines for X-Amz-Log-Result. */
export class LogStream {
  private readonly sink: (line: string) => void;
  private readonly spec: EnvironmentSpec;
  private tail: string[] = [];
  private tailBytes = 0;
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

  start(requestId: string): void {
    this.tail = [];
    this.tailBytes = 0;
    if (this.json) this.platform('platform.start', { requestId, version: this.spec.version });
    else this.line(`START RequestId: ${requestId} Version: ${this.spec.version}`);
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
    if (this.json) {
      this.platform('platform.report', {
        requestId,
        status,
        ...(errorType && status !== 'success' ? { errorType } : {}),
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
    }
    const tail = Buffer.from(this.tail.join(''));
    this.tail = [];
    this.tailBytes = 0;
    return tail.subarray(Math.max(0, tail.length - TAIL_BYTES)).toString('base64');
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

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
