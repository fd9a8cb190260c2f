// The gateway's own log: one JSON object per line in production (time, level, message, and fields such as
// requestId, function and version, plus the active trace), or `message key=value` text for a terminal.
import { trace } from '@opentelemetry/api';
import type { Tracing } from './tracing.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | undefined>;

export interface GatewayLoggerOptions {
  format: 'json' | 'text';
  /** Receives one finished line (without a newline). */
  write: (line: string) => void;
  /** Which part of Serval writes: `gateway`, later `controller`. */
  component?: string;
  /** Adds trace_id/span_id of the step running now, so a log line leads to its trace. */
  tracing?: Tracing;
  now?: () => Date;
}

export class GatewayLogger {
  private readonly options: GatewayLoggerOptions;

  constructor(options: GatewayLoggerOptions) {
    this.options = options;
  }

  /** The plain `(line) => void` most of the gateway takes; the line becomes an `info` record. */
  readonly line = (message: string): void => this.log('info', message);

  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  log(level: LogLevel, message: string, fields: LogFields = {}): void {
    const { format, write, component = 'gateway', tracing, now = () => new Date() } = this.options;
    const span = tracing?.enabled ? trace.getSpanContext(tracing.active()) : undefined;
    const context = span ? { trace_id: span.traceId, span_id: span.spanId } : {};
    if (format === 'json') {
      write(
        JSON.stringify({ time: now().toISOString(), level, component, msg: message, ...fields, ...context }),
      );
      return;
    }
    const pairs = Object.entries({ ...fields, ...context })
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => ` ${k}=${typeof v === 'string' && /[\s"=]/.test(v) ? JSON.stringify(v) : v}`);
    write(`${level === 'info' ? '' : `${level}: `}${message}${pairs.join('')}`);
  }
}
