// Replaces console methods so every record carries time, request id and level, as Lambda's Node runtime writes them.
import { format } from 'node:util';
import type { LogFormat, LogLevel } from './config.ts';
import { intoError, toFormattedError } from './errors.ts';
import type { InvocationScope } from './invocation-scope.ts';

const PRIORITY: Record<LogLevel, number> = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

type ConsoleMethod = 'trace' | 'debug' | 'info' | 'log' | 'warn' | 'error' | 'fatal';
const METHOD_LEVEL: Record<ConsoleMethod, LogLevel> = {
  trace: 'TRACE',
  debug: 'DEBUG',
  info: 'INFO',
  log: 'INFO',
  warn: 'WARN',
  error: 'ERROR',
  fatal: 'FATAL',
};

export interface RuntimeLogOptions {
  format: LogFormat;
  level: LogLevel;
  /** Receives whole records, each ending in one newline. */
  write: (record: string) => void;
  now?: () => Date;
  /** Several invocations at once: a record names the invocation of the code that wrote it. */
  scope?: InvocationScope | undefined;
}

/** The function's application log: console records plus the runtime's own error records. */
export class RuntimeLog {
  /** The invocation being served; `undefined` during init, printed as "undefined" like Lambda does. */
  requestId: string | undefined;
  tenantId: string | undefined;
  private readonly options: RuntimeLogOptions;
  private readonly now: () => Date;

  constructor(options: RuntimeLogOptions) {
    this.options = options;
    this.now = options.now ?? (() => new Date());
  }

  /** Routes `console.<method>` through this log; methods below the configured level become no-ops. */
  patch(target: Console): void {
    const methods = target as unknown as Record<ConsoleMethod, (...params: unknown[]) => void>;
    for (const [method, level] of Object.entries(METHOD_LEVEL) as [ConsoleMethod, LogLevel][]) {
      // FATAL is always written, as the official client does.
      const enabled = level === 'FATAL' || this.enabled(level);
      // The message is passed on even when absent: `console.log()` prints "undefined" in Lambda.
      methods[method] = enabled
        ? (message?: unknown, ...params: unknown[]) => this.emit(level, [message, ...params])
        : () => {};
    }
  }

  /** Logs an error the runtime reports (invoke errors, uncaught exceptions) in the configured format. */
  logError(label: string, error: unknown): void {
    if (!this.enabled('ERROR')) return;
    if (this.options.format === 'JSON') this.emit('ERROR', [intoError(error)]);
    else this.emit('ERROR', [label, toFormattedError(intoError(error))]);
  }

  /** One record as a single line: newlines inside the message become carriage returns. */
  render(level: LogLevel, params: readonly unknown[]): string {
    const time = this.now().toISOString();
    const { requestId, tenantId } = this.options.scope?.current() ?? this;
    const line =
      this.options.format === 'JSON'
        ? renderJson(time, level, requestId, tenantId, params)
        : `${time}\t${requestId}\t${level}\t${format(...params)}`;
    return line.replace(/\n/g, '\r');
  }

  private emit(level: LogLevel, params: readonly unknown[]): void {
    this.options.write(`${this.render(level, params)}\n`);
  }

  private enabled(level: LogLevel): boolean {
    return PRIORITY[level] >= PRIORITY[this.options.level];
  }
}

interface JsonRecord {
  timestamp: string;
  level: LogLevel;
  requestId: string | undefined;
  tenantId?: string;
  message?: unknown;
  errorType?: string;
  errorMessage?: string;
  stackTrace?: string[];
}

function renderJson(
  timestamp: string,
  level: LogLevel,
  requestId: string | undefined,
  tenantId: string | undefined,
  params: readonly unknown[],
): string {
  const record: JsonRecord = { timestamp, level, requestId };
  if (tenantId !== undefined) record.tenantId = tenantId;
  if (params.length === 1) {
    // A single value is kept as structured JSON (an object stays an object, an Error becomes its fields).
    record.message = params[0];
    try {
      return JSON.stringify(record, errorAsFields);
    } catch {
      record.message = format(params[0]);
      return JSON.stringify(record);
    }
  }
  record.message = format(...params);
  const error = params.find((p) => p instanceof Error);
  if (error instanceof Error) {
    record.errorType = error.constructor?.name ?? 'UnknownError';
    record.errorMessage = error.message;
    record.stackTrace = typeof error.stack === 'string' ? error.stack.split('\n') : [];
  }
  return JSON.stringify(record);
}

function errorAsFields(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  return Object.assign(
    {
      errorType: value.constructor?.name ?? 'UnknownError',
      errorMessage: value.message,
      stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
    },
    value,
  );
}
